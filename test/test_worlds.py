"""Gazebo worlds read as CustomRobots ships them: SDF, COLLADA/OBJ meshes, and what we measure from them.

A tiny world (SDF + OBJ + MTL) written by the test itself checks the loader on any machine; the real
worlds (../shared/worlds, skipped where absent) check it on the files our users have.
"""
import json
import math
import subprocess
from pathlib import Path

import numpy as np
import pytest

from f1_brains.errors import ConfigError
from f1_brains.sim.simulation import RunLimits
from f1_brains.worlds import circuits
from f1_brains.worlds.collada import read_triangles
from f1_brains.worlds.gazebo_world import read_world
from f1_brains.worlds.measure import measure

RADIUS, ROAD, RED = 20.0, 3.0, 0.1


def ring_quads(inner: float, outer: float, n: int = 120, z0: float = 0.0, z1: float = 0.0) -> list[list[tuple]]:
    """Quads of an annulus (z0 == z1) or of a vertical cylinder wall (inner == outer, z0 < z1)."""
    a = np.linspace(0, 2 * math.pi, n + 1)
    quads = []
    for t0, t1 in zip(a[:-1], a[1:]):
        p = lambda r, t, z: (r * math.cos(t), r * math.sin(t), z)  # noqa: E731
        quads.append([p(inner, t0, z0), p(outer, t0, z1 if inner == outer else z0),
                      p(outer, t1, z1 if inner == outer else z0), p(inner, t1, z0)])
    return quads


TEXTURE_RGB = (40, 90, 150)     # the tiny world's asphalt texture: a colour no default look has


def write_obj(path: Path, groups: dict[str, list[list[tuple]]], colours: dict[str, tuple],
              textures: dict[str, str] | None = None) -> None:
    """OBJ + MTL; materials named in ``textures`` get texture coordinates and a map_Kd image."""
    textures = textures or {}
    lines, index = [f"mtllib {path.stem}.mtl", "vt 0 0", "vt 1 0", "vt 1 1", "vt 0 1"], 1
    for material, quads in groups.items():
        lines.append(f"usemtl {material}")
        for quad in quads:
            lines += [f"v {x:.4f} {y:.4f} {z:.4f}" for x, y, z in quad]
            corners = [f"{index + k}/{k + 1}" if material in textures else str(index + k) for k in range(4)]
            lines.append("f " + " ".join(corners))
            index += 4
    path.write_text("\n".join(lines) + "\n")
    path.with_suffix(".mtl").write_text("".join(
        f"newmtl {m}\nKd {r} {g} {b}\n" + (f"map_Kd {textures[m]}\n" if m in textures else "")
        for m, (r, g, b) in colours.items()))


def tiny_world(root: Path, red: bool = True, car: bool = True) -> Path:
    """A CustomRobots-like checkout: worlds/ring.world including models/ring (road, red line, walls) and
    the car spawned on the line at (RADIUS, 0) facing clockwise (-y)."""
    meshes = root / "models" / "ring" / "meshes"
    meshes.mkdir(parents=True)
    road = {"asphalt": ring_quads(RADIUS - ROAD / 2, RADIUS + ROAD / 2)}
    if red:
        road["red"] = ring_quads(RADIUS - RED / 2, RADIUS + RED / 2, z0=0.001, z1=0.001)
    write_obj(meshes / "road.obj", road, {"asphalt": (0.3, 0.3, 0.3), "red": (1, 0, 0)}, {"asphalt": "asphalt.png"})
    import cv2
    cv2.imwrite(str(meshes / "asphalt.png"), np.full((8, 8, 3), TEXTURE_RGB[::-1], np.uint8))
    faces = ring_quads(RADIUS - ROAD / 2, RADIUS - ROAD / 2, z1=0.5) + ring_quads(RADIUS + ROAD / 2, RADIUS + ROAD / 2, z1=0.5)
    walls = {"wall": faces + [quad[::-1] for quad in faces]}   # both sides, as SketchUp exports them
    write_obj(meshes / "walls.obj", walls, {"wall": (0.8, 0.8, 0.8)})
    (root / "models" / "ring" / "model.sdf").write_text("""<?xml version="1.0"?><sdf version="1.5"><model name="ring">
      <static>true</static><link name="road"><visual name="v"><geometry><mesh><uri>model://ring/meshes/road.obj</uri>
      </mesh></geometry></visual></link><link name="walls"><collision name="c"><geometry><mesh>
      <uri>model://ring/meshes/walls.obj</uri></mesh></geometry></collision><visual name="v"><geometry><mesh>
      <uri>model://ring/meshes/walls.obj</uri></mesh></geometry></visual></link></model></sdf>""")
    (root / "worlds").mkdir()
    car_include = f"<include><uri>model://f1_renault</uri><pose>{RADIUS} 0 0.004 0 0 -1.5708</pose></include>" \
        if car else ""
    world = root / "worlds" / "ring.world"
    world.write_text(f"""<?xml version="1.0"?><sdf version="1.5"><world name="default">
      <include><uri>model://ring</uri><pose>0 0 0 0 0 0</pose></include>{car_include}
      <scene><ambient>1 1 1 1</ambient></scene></world></sdf>""")
    return world


def test_a_tiny_world_is_measured_from_its_meshes(tmp_path):
    measured = measure(read_world(tiny_world(tmp_path)))
    radius = np.hypot(*measured.centre_line.T)
    assert np.abs(radius - RADIUS).max() < 0.05                           # on the red strip
    assert measured.red_length == pytest.approx(2 * math.pi * RADIUS, rel=0.01)
    assert np.nanmedian(measured.walls, axis=0) == pytest.approx([ROAD / 2, ROAD / 2], abs=0.06)
    assert measured.wall_height == pytest.approx(0.5)
    assert measured.red_line_width == pytest.approx(RED, rel=0.05)
    # clockwise from the spawn: the second point is below the first (driving towards -y)
    assert measured.centre_line[1, 1] < measured.centre_line[0, 1]


def test_a_world_file_is_a_circuit_the_explicit_brain_laps(tmp_path):
    from f1_brains.core.explicit import ExplicitBrain
    from f1_brains.sim import offline
    track = circuits.load(str(tiny_world(tmp_path)))
    assert track.name == "ring" and track.walled and (track.spawn.x, track.spawn.y) == (RADIUS, 0.0)
    sim = offline.drive(track, ExplicitBrain(), RunLimits(laps=1, timeout=100))
    assert sim.end_reason == "completed 1 lap(s)"


@pytest.mark.parametrize("breakage,match", [
    ("no_model", r"model 'ring' not found .*GAZEBO_MODEL_PATH"),
    ("bad_mesh", r"road.obj:\d+: malformed OBJ line"),
    ("no_red", "no red-material triangles"),
    ("no_car", "no f1_renault included"),
    ("bad_pose", "pose .* is not six"),
])
def test_broken_worlds_give_one_clear_error(tmp_path, breakage, match, monkeypatch):
    monkeypatch.delenv("GAZEBO_MODEL_PATH", raising=False)
    world = tiny_world(tmp_path, red=breakage != "no_red", car=breakage != "no_car")
    if breakage == "no_model":
        (tmp_path / "models" / "ring").rename(tmp_path / "models" / "elsewhere")
    elif breakage == "bad_mesh":
        with open(tmp_path / "models/ring/meshes/road.obj", "a") as f:
            f.write("v 1 2 three\n")
    elif breakage == "bad_pose":
        world.write_text(world.read_text().replace("<pose>0 0 0 0 0 0</pose>", "<pose>0 0 north</pose>"))
    with pytest.raises(ConfigError, match=match):
        circuits.load(str(world))


def test_models_are_found_through_gazebo_model_path(tmp_path, monkeypatch):
    world = tiny_world(tmp_path / "checkout")
    moved = tmp_path / "elsewhere"
    (tmp_path / "checkout" / "models").rename(moved)
    monkeypatch.setenv("GAZEBO_MODEL_PATH", str(moved))
    assert read_world(world).meshes[0].path.is_relative_to(moved)


def test_a_broken_collada_file_names_itself(tmp_path):
    bad = tmp_path / "bad.dae"
    bad.write_text("<COLLADA><library_geometries>")
    with pytest.raises(ConfigError, match=r"bad.dae: cannot be read as COLLADA"):
        read_triangles(bad)


def test_real_collada_meshes_keep_their_units(real_worlds):
    """simple_line.dae is in inches (SketchUp), pared.dae in metres: both must come out in metres."""
    meshes = real_worlds / "customrobots_f1/f1/models/simple_circuit/meshes"
    line = np.concatenate([p.triangles for p in read_triangles(meshes / "simple_line.dae")])
    walls = np.concatenate([p.triangles for p in read_triangles(meshes / "pared.dae")])
    for tris in (line, walls):
        extent = np.ptp(tris[..., :2].reshape(-1, 2), axis=0)
        assert 100 < extent.max() < 140                    # the circuit is about 107 x 104 m
    assert np.median(np.ptp(walls[..., 2], axis=1)[np.ptp(walls[..., 2], axis=1) > 0.1]) == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("world", ["simple_circuit", "nurburgring_line"])
def test_real_world_files_are_circuits(real_worlds, world):
    track = circuits.load(str(real_worlds / f"customrobots_f1/f1/worlds/{world}.world"))
    shipped = circuits.named(circuits.canonical(world))
    assert track.length == pytest.approx(shipped.length, rel=1e-3)
    assert (track.spawn.x, track.spawn.y) == (shipped.spawn.x, shipped.spawn.y)


# ---- the real meshes drawn with OpenGL (pyrender on Mesa) ----
# Mesa's llvmpipe and TensorFlow each bring their own LLVM and cannot share a process (loading TensorFlow after
# Mesa segfaults), and other tests in this pytest process load TensorFlow: MeshRenderer checks run in a fresh
# python. The product keeps them apart the same way: the simulator and `laps` draw in a child process.

def in_fresh_python(code: str) -> dict:
    """Run ``code`` (ending by printing one JSON line) in a new interpreter beside this file; its result."""
    import json
    import subprocess
    import sys
    result = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parent, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_mesh_renderer_draws_a_tiny_world_as_the_field_renderer_does(tmp_path):
    out = in_fresh_python(f"""
import json
from pathlib import Path
import numpy as np
from test_worlds import tiny_world
from f1_brains.worlds import circuits
from f1_brains.sim.fidelity import iou, red_mask
from f1_brains.sim.mesh_renderer import MeshRenderer
from f1_brains.sim.renderer import Renderer
world = tiny_world(Path({str(tmp_path)!r}))
mesh, track = MeshRenderer(world), circuits.load(str(world))
field = Renderer(track)
x, y, heading = track.pose_at(10.0)
real, ours = mesh.render(x, y, heading), field.render(x, y, heading)
(walls_real, ground_real), (walls_ours, ground_ours) = mesh.masks(), field.masks()
mesh.close()
print(json.dumps({{"shape": list(real.shape), "dtype": str(real.dtype), "red": iou(red_mask(real), red_mask(ours)),
                  "walls": iou(walls_real, walls_ours), "ground": iou(ground_real, ground_ours),
                  "road": real[460, 20].tolist()}}))
""")
    assert out["shape"] == [480, 640, 3] and out["dtype"] == "uint8"
    assert out["red"] > 0.8 and out["walls"] > 0.9 and out["ground"] > 0.9
    # near left: asphalt, drawn with its texture (the world's ambient 1 lights it as it is)
    assert np.abs(np.array(out["road"]) - TEXTURE_RGB).max() <= 3, out["road"]


def test_no_opengl_is_one_clear_error(tmp_path):
    """A platform that cannot be loaded stands in for a machine without EGL/OSMesa."""
    import os
    import subprocess
    import sys
    world = tiny_world(tmp_path)
    code = ("from f1_brains.sim.mesh_renderer import MeshRenderer\n"
            "from f1_brains.errors import ConfigError\n"
            f"try:\n    MeshRenderer({str(world)!r})\nexcept ConfigError as e:\n    print('ERROR', e)\n")
    env = {**os.environ, "PYOPENGL_PLATFORM": "nogl"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.stdout.startswith("ERROR rendering real meshes needs OpenGL through EGL or OSMesa"), \
        result.stdout + result.stderr[-2000:]
    assert "Traceback" not in result.stdout


def test_real_circuit_meshes_look_like_our_built_in_ones(real_worlds):
    out = in_fresh_python(f"""
import json
from pathlib import Path
from f1_brains.sim.fidelity import compare_views
worlds = Path({str(real_worlds / "customrobots_f1/f1/worlds")!r})
print(json.dumps({{name: compare_views(name, worlds / world, poses=8, seed=1, pictures=None)
                  for name, world in (("simple_circuit", "simple_circuit.world"), ("montreal", "montreal_line.world"))}}))
""")
    for views in out.values():
        assert views["red_iou_mean"] > 0.9 and views["wall_iou_mean"] > 0.85
        assert abs(views["horizon_ours"] - views["horizon_real"]) <= 2


def test_laps_drives_a_world_file_on_its_meshes(tmp_path):
    """`f1-brains laps` with a .world circuit draws its real meshes, TensorFlow brains included: the renderer's
    Mesa lives in its own process (sim/renderer_process.py), away from TensorFlow's LLVM."""
    import sys
    world = tiny_world(tmp_path / "checkout")
    result = subprocess.run([str(Path(sys.executable).parent / "f1-brains"), "laps", "--brains", "pilotnet_keras",
                             "--circuits", str(world), "--json", str(tmp_path / "laps.json")],
                            capture_output=True, text=True, timeout=300)
    runs = json.loads((tmp_path / "laps.json").read_text())["runs"]
    explicit, keras = runs
    assert explicit["completed"] and explicit["circuit"] == "ring", result.stderr[-2000:]
    assert explicit["lap_time_s"] == pytest.approx(2 * 3.14159 * RADIUS / explicit["average_speed"], rel=0.02)
    assert keras["brain"] == "pilotnet_keras" and keras["completed"], (keras, result.stderr[-2000:])
    assert "Segmentation fault" not in result.stderr
