"""Stress conditions: parsed with clear errors, each family doing what it says to a frame, seeded."""
import json

import cv2
import numpy as np
import pytest

from f1_brains.cli import main
from f1_brains.errors import ConfigError
from f1_brains.sim.conditions import CameraPerturbation, Condition
from f1_brains.sim.renderer import Renderer, Rig, camera_matrix
from f1_brains.worlds import circuits


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    track = circuits.named("simple_circuit")
    return Renderer(track).render(*track.pose_at(20.0))


def perturbed(frame: np.ndarray, condition: str, seed: int = 0) -> np.ndarray:
    return CameraPerturbation(Condition.parse(condition), seed).apply(frame.copy())


@pytest.mark.parametrize("text, message", [
    ("fog:1", "unknown condition 'fog:1': families are noise (1-64"),
    ("noise", "condition 'noise': the level must be a number (noise:1 to noise:64"),
    ("noise:x", "the level must be a number"),
    ("noise:100", "noise levels run from 1 to 64"),
    ("dim:1.5", "dim levels run from 0.1 to 0.95"),
    ("jpeg:0", "jpeg levels run from 5 to 95"),
    ("yaw:50", "yaw levels run from 0.5 to 45"),
    ("height:12", "height levels run from 0.5 to 10"),
    ("speed:3.5", "speed levels run from 1.05 to 3"),
])
def test_bad_conditions_are_refused_with_the_range(text, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("'", "'")):
        Condition.parse(text)


def test_conditions_read_back_as_written():
    assert [str(Condition.parse(t)) for t in ("none", "", "noise:8", "blur:2.5", "jpeg:20", "dim:0.5", "latency:100",
                                                "yaw:2", "pitch:1.5", "height:3", "sun:90", "speed:1.3")] == \
        ["none", "none", "noise:8", "blur:2.5", "jpeg:20", "dim:0.5", "latency:100", "yaw:2", "pitch:1.5", "height:3",
         "sun:90", "speed:1.3"]


def test_each_family_does_what_it_says(frame):
    diff = perturbed(frame, "noise:8").astype(np.float64) - frame
    assert 7.0 < diff.std() < 8.5 and abs(diff.mean()) < 0.5          # clipping at 0 and 255 aside
    assert perturbed(frame, "dim:0.5").mean() == pytest.approx(frame.mean() / 2, rel=0.02)
    def sharpness(image):   # variance of the Laplacian: edges
        return cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()
    assert sharpness(perturbed(frame, "blur:3")) < 0.2 * sharpness(frame)
    jpeg = perturbed(frame, "jpeg:10")
    assert 0 < np.abs(jpeg.astype(np.int16) - frame).mean() < 20
    assert perturbed(frame, "jpeg:10").tobytes() == jpeg.tobytes()   # deterministic
    assert perturbed(frame, "none").tobytes() == frame.tobytes()


def test_the_camera_mount_turns_and_tilts_by_its_level():
    """yaw:5 turns the camera left about its mount: the far end of the red line moves right by f tan 5 deg (28 px);
    pitch:5 tilts it down: the horizon moves up by the same; the camera's position is unchanged."""
    track = circuits.named("simple_circuit")
    renderer, pose = Renderer(track), track.pose_at(20.0)
    def apex(image):   # (row, column) of the red line's farthest visible pixel
        red = (image[..., 0] > 200) & (image[..., 1] < 60)
        row = int(np.argmax(red.any(axis=1)))
        return row, float(np.mean(np.nonzero(red[row])[0]))
    def seen(condition):
        perturbation = CameraPerturbation(Condition.parse(condition))
        drawn = Renderer(track, rig=perturbation.rig).render(*perturbation.view(*pose))
        return perturbation.apply(drawn), perturbation
    level, f_tan = apex(renderer.render(*pose)), 320 / np.tan(1.57 / 2) * np.tan(np.radians(5))
    turned, perturbation = seen("yaw:5")
    assert apex(turned)[1] - level[1] == pytest.approx(f_tan, abs=3) and abs(apex(turned)[0] - level[0]) <= 2
    x, y, yaw = perturbation.view(*pose)
    mount = lambda x, y, a: (x + 0.45 * np.cos(a) - 0.04 * np.sin(a), y + 0.45 * np.sin(a) + 0.04 * np.cos(a))
    assert mount(x, y, yaw) == pytest.approx(mount(*pose)) and yaw == pytest.approx(pose[2] + np.radians(5))
    tilted, perturbation = seen("pitch:5")
    assert level[0] - apex(tilted)[0] == pytest.approx(f_tan, abs=3) and perturbation.view(*pose) == pose


def test_a_tilted_camera_is_drawn_tilted_down_to_its_bottom_row():
    """pitch:10 agrees with the level frame turned through the rotation (a homography: K R K^-1) wherever the level
    camera saw, and draws what it never saw: the ground just ahead of the camera, at the bottom."""
    track = circuits.named("simple_circuit")
    pose = track.pose_at(20.0)
    level = Renderer(track).render(*pose)
    tilted = Renderer(track, rig=CameraPerturbation(Condition.parse("pitch:10")).rig).render(*pose)
    k, p = camera_matrix(), np.radians(10)
    turn = k @ np.array([[1, 0, 0], [0, np.cos(p), np.sin(p)], [0, -np.sin(p), np.cos(p)]]) @ np.linalg.inv(k)
    turned = cv2.warpPerspective(level, np.linalg.inv(turn), (640, 480), flags=cv2.INTER_LINEAR)
    red = lambda image: (image[..., 0] > 200) & (image[..., 1] < 60)   # noqa: E731
    band = slice(250, 370)   # the level camera saw these rows' rays (its bottom row maps to row 418)
    a, b = red(tilted)[band], red(turned)[band]
    assert a.sum() > 1000 and (a & b).sum() / (a | b).sum() > 0.9
    bottom = red(tilted)[440:]
    assert bottom.any(axis=1).all()                    # the line right ahead of the camera, down to the last row
    assert len({row.tobytes() for row in tilted[440:]}) > 20   # drawn, not the last seen row repeated


def test_a_raised_camera_sees_the_road_from_higher():
    """height:5 draws from 0.154 m instead of 0.104: a ground width at a given image row spans h0/h1 as many pixels
    (the row sees the ground at h f / (row - centre) metres); the car pose is unchanged."""
    track = circuits.named("simple_circuit")
    pose = track.pose_at(20.0)
    raised = CameraPerturbation(Condition.parse("height:5"))
    assert raised.rig.camera_height == pytest.approx(0.154) and raised.view(*pose) == pose
    assert CameraPerturbation(Condition.parse("yaw:5")).rig == Rig()
    def red_per_row(image):
        return ((image[..., 0] > 200) & (image[..., 1] < 60))[330:480].sum(axis=1)
    low = red_per_row(Renderer(track).render(*pose))
    high = red_per_row(Renderer(track, rig=raised.rig).render(*pose))
    assert low.min() >= 15   # the line crosses every row of the band
    assert np.median(high / low) == pytest.approx(0.104 / 0.154, rel=0.08)


def test_a_turned_sun_shades_the_walls_by_how_they_face_it():
    """sun:180 turns the sun half round: on montreal (ambient 0.4, so the sun's share shows) the walls that faced it
    go dark and the others light up; the road and sky do not change."""
    track = circuits.named("montreal")
    pose = track.pose_at(100.0)
    turned = CameraPerturbation(Condition.parse("sun:180")).rig
    assert turned.sun((1.0, 0.0, -1.0)) == pytest.approx([-1.0, 0.0, -1.0])
    plain, other = Renderer(track).render(*pose), Renderer(track, rig=turned).render(*pose)
    changed = np.any(plain != other, axis=2)
    grey = lambda image: (np.ptp(image.astype(int), axis=2) < 12) & (image.mean(axis=2) > 60)  # noqa: E731 the walls
    assert changed.mean() > 0.02 and np.all(grey(plain)[changed] | grey(other)[changed])   # only wall pixels change
    assert abs(plain[changed].mean() - other[changed].mean()) > 10


def test_drop_loses_frames_at_its_rate_and_leaves_the_image_alone(frame):
    drop = CameraPerturbation(Condition.parse("drop:0.3"), seed=1)
    lost = [drop.drops() for _ in range(2000)]
    assert 0.27 < np.mean(lost) < 0.33
    again = CameraPerturbation(Condition.parse("drop:0.3"), seed=1)
    assert lost == [again.drops() for _ in range(2000)]   # seeded: the same frames lost
    assert drop.apply(frame.copy()).tobytes() == frame.tobytes()
    assert not any(CameraPerturbation(Condition.parse("noise:8")).drops() for _ in range(100))


def test_noise_is_seeded(frame):
    assert np.array_equal(perturbed(frame, "noise:8", seed=3), perturbed(frame, "noise:8", seed=3))
    assert not np.array_equal(perturbed(frame, "noise:8", seed=3), perturbed(frame, "noise:8", seed=4))


def test_evaluate_refuses_a_bad_condition_before_any_run(tmp_path, capsys):
    rc = main(["evaluate", "--brains", "explicit", "--circuits", "simple_circuit", "--conditions", "none", "fog:2",
               "--out", str(tmp_path / "out")])
    assert rc == 2 and "unknown condition 'fog:2'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_condition_is_a_column_of_the_matrix(tmp_path, monkeypatch):
    monkeypatch.setenv("ROS_HOME", str(tmp_path / "ros"))
    out = tmp_path / "out"
    assert main(["evaluate", "--brains", "explicit", "--circuits", "simple_circuit", "--conditions", "none",
                 "noise:16", "drop:0.3", "latency:100", "yaw:4", "height:5", "speed:1.5", "--jobs", "2", "--out",
                 str(out)]) == 0
    sim = json.loads((out / "explicit/simple_circuit/lockstep.noise16/r0/sim_summary.json").read_text())
    assert sim["condition"] == "noise:16" and sim["end_reason"] == "completed 1 lap(s)"
    plain = json.loads((out / "explicit/simple_circuit/lockstep/r0/sim_summary.json").read_text())
    assert plain["condition"] == "none"
    assert sim["laps"][0]["mean_abs_offset"] != plain["laps"][0]["mean_abs_offset"]   # it saw other frames
    dropped = json.loads((out / "explicit/simple_circuit/lockstep.drop0.3/r0/sim_summary.json").read_text())
    assert dropped["end_reason"] == "completed 1 lap(s)" and plain["frames_dropped"] == 0
    assert 0.25 < dropped["frames_dropped"] / (dropped["frames"] + dropped["frames_dropped"]) < 0.35
    brain = json.loads((out / "explicit/simple_circuit/lockstep.drop0.3/r0/brain_summary.json").read_text())
    assert brain["frames"]["received"] == dropped["frames"]   # what was dropped never reached the brain
    late = json.loads((out / "explicit/simple_circuit/lockstep.latency100/r0/sim_summary.json").read_text())
    assert late["condition"] == "latency:100" and late["end_reason"] == "completed 1 lap(s)"
    assert late["laps"][0]["mean_abs_offset"] > plain["laps"][0]["mean_abs_offset"]   # corrections 100 ms late
    turned = json.loads((out / "explicit/simple_circuit/lockstep.yaw4/r0/sim_summary.json").read_text())
    assert turned["condition"] == "yaw:4" and turned["end_reason"] == "completed 1 lap(s)"
    assert turned["laps"][0]["mean_abs_offset"] > plain["laps"][0]["mean_abs_offset"]   # it steers to a turned view
    higher = json.loads((out / "explicit/simple_circuit/lockstep.height5/r0/sim_summary.json").read_text())
    assert higher["condition"] == "height:5" and higher["end_reason"] == "completed 1 lap(s)"
    assert higher["laps"][0]["mean_abs_offset"] != plain["laps"][0]["mean_abs_offset"]   # drawn from higher up
    fast = json.loads((out / "explicit/simple_circuit/lockstep.speed1.5/r0/sim_summary.json").read_text())
    assert fast["condition"] == "speed:1.5" and fast["end_reason"] == "completed 1 lap(s)"
    # the car drives 1.5 times what the brain commands: a lap in about 1/1.5 of the time, every bend taken wider
    assert fast["laps"][0]["lap_time"] < 0.75 * plain["laps"][0]["lap_time"]
    assert fast["laps"][0]["mean_abs_offset"] > plain["laps"][0]["mean_abs_offset"]
    text = (out / "results.md").read_text()
    assert "| explicit (explicit) simple_circuit lockstep noise:16 |" in text
