"""The real-mesh renderer in its child process: the same frames, a real crash survived, clear errors."""
import os
import signal

import numpy as np
import pytest
from test_worlds import in_fresh_python, tiny_world

from f1_brains.errors import ConfigError
from f1_brains.sim.renderer import Rig
from f1_brains.sim.renderer_process import RendererCrashed, RendererProcess
from f1_brains.worlds import circuits


@pytest.fixture
def world(tmp_path):
    return tiny_world(tmp_path / "checkout")


def test_it_draws_what_the_mesh_renderer_draws_in_process(world, tmp_path):
    x, y, heading = circuits.load(str(world)).pose_at(10.0)
    in_fresh_python(f"""
import json
import numpy as np
from f1_brains.sim.mesh_renderer import MeshRenderer
from f1_brains.sim.renderer import Rig
np.save({str(tmp_path / "direct.npy")!r}, MeshRenderer({str(world)!r}).render({x!r}, {y!r}, {heading!r}))
np.save({str(tmp_path / "raised.npy")!r}, MeshRenderer({str(world)!r}, Rig(0.154, 1.0)).render({x!r}, {y!r}, {heading!r}))
print(json.dumps({{}}))
""")
    with RendererProcess(world) as renderer:
        image = renderer.render(x, y, heading)
    assert image.shape == (480, 640, 3) and image.dtype == np.uint8
    assert np.array_equal(image, np.load(tmp_path / "direct.npy"))
    with RendererProcess(world, rig=Rig(0.154, 1.0)) as renderer:   # the height and sun conditions' rig
        raised = renderer.render(x, y, heading)
    assert np.array_equal(raised, np.load(tmp_path / "raised.npy")) and not np.array_equal(raised, image)


def test_a_renderer_killed_by_sigsegv_is_restarted_and_draws_the_frame_again(world):
    heard = []
    pose = circuits.load(str(world)).pose_at(5.0)
    with RendererProcess(world, on_restart=heard.append) as renderer:
        before, first_pid = renderer.render(*pose), renderer.pid
        os.kill(first_pid, signal.SIGSEGV)
        after = renderer.render(*pose)
        assert renderer.pid != first_pid
    assert np.array_equal(before, after)
    assert heard == ["mesh renderer killed by SIGSEGV; restarting it (1 of 3) and drawing the frame again"]


def test_a_renderer_that_stops_answering_is_replaced(world):
    with RendererProcess(world, frame_timeout=1.0, on_restart=lambda _: None) as renderer:
        renderer.render(0.0, 0.0, 0.0)
        os.kill(renderer.pid, signal.SIGSTOP)
        assert renderer.render(0.0, 0.0, 0.0).shape == (480, 640, 3)
        assert renderer.crashes == ["answered no frame for 1 s"]


def test_a_renderer_that_keeps_dying_gives_up_with_the_reason(world):
    with RendererProcess(world, max_restarts=1, on_restart=lambda _: None) as renderer:
        for _ in range(2):
            os.kill(renderer.pid, signal.SIGSEGV)
            try:
                renderer.render(0.0, 0.0, 0.0)
            except RendererCrashed as e:
                assert str(e) == "the mesh renderer died 2 times (last: killed by SIGSEGV); giving up after 1 restarts"
                return
    pytest.fail("a second crash with max_restarts=1 did not raise")


def test_a_world_it_cannot_read_is_one_clear_error(tmp_path):
    broken = tmp_path / "broken.world"
    broken.write_text("<sdf><world name='x'><include><uri>model://nowhere</uri></include></world></sdf>")
    with pytest.raises(ConfigError, match=r"the mesh renderer for .*broken.world did not start: .*nowhere"):
        RendererProcess(broken)


def test_no_opengl_in_the_child_is_one_clear_error(world, monkeypatch):
    monkeypatch.setenv("PYOPENGL_PLATFORM", "nogl")
    with pytest.raises(ConfigError, match="did not start: rendering real meshes needs OpenGL through EGL or OSMesa"):
        RendererProcess(world)
