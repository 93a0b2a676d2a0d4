"""The embedded simulator without ROS: circuit geometry, kinematics, rendering, end conditions, laps."""
import math

import numpy as np
import pytest

from f1_brains.errors import ConfigError
from f1_brains.explicit import ExplicitBrain, line_error
from f1_brains.sim import circuits, kinematics, offline
from f1_brains.sim.kinematics import CarState
from f1_brains.sim.renderer import Appearance, Renderer
from f1_brains.sim.simulation import RunLimits, Simulation
from f1_brains.sim.track import ROAD_WIDTH, Track, load_points_file


def circle(radius: float = 50.0, n: int = 24) -> np.ndarray:
    a = np.linspace(0, 2 * math.pi, n, endpoint=False)
    return np.column_stack([radius * np.cos(a), radius * np.sin(a)])


@pytest.fixture(scope="module")
def ring() -> Track:
    return Track("ring", circle())


def test_circle_geometry(ring):
    assert ring.length == pytest.approx(2 * math.pi * 50, rel=2e-3)
    assert np.median(ring.curvature()) == pytest.approx(1 / 50, rel=1e-2)   # anticlockwise: positive
    x, y, heading = ring.pose_at(0.0)
    assert (x, y) == pytest.approx((50, 0), abs=0.05) and heading == pytest.approx(math.pi / 2, abs=0.02)


def test_projection_is_exact_and_signed(ring):
    for angle in (0.3, 2.0, 4.4):
        for offset in (-2.5, 0.0, 1.7):   # positive: to the left of the driving direction (inside)
            r = 50 - offset
            p = ring.project(r * math.cos(angle), r * math.sin(angle))
            assert p.offset == pytest.approx(offset, abs=0.01)
            assert p.s == pytest.approx(angle * 50, abs=0.3)


@pytest.mark.parametrize("name", list(circuits.CIRCUITS))
def test_named_circuits_are_valid_smooth_loops(name):
    track = circuits.named(name)
    _, target = circuits.CIRCUITS[name]
    assert track.length == pytest.approx(target, rel=1e-3)
    smoothed = np.convolve(np.abs(track.curvature()), np.ones(10) / 10, "same")
    assert 1 / smoothed.max() > 10.0    # no bend tighter than 10 m radius
    assert track.width == ROAD_WIDTH


def test_points_file_round_trip(tmp_path):
    path = tmp_path / "oval.txt"
    path.write_text("# my track\n" + "\n".join(f"{x:.3f} {y:.3f}" for x, y in circle(60, 16)))
    track = circuits.load(str(path))
    assert track.name == "oval" and track.length == pytest.approx(2 * math.pi * 60, rel=3e-3)


@pytest.mark.parametrize("content,match", [
    ("0 0\n10 0\n10 10\n", "at least 4"),
    ("0 0\n1 1\nfoo bar\n", r"oval.txt:3: expected two numbers"),
    ("\n".join(f"{x} 0" for x in range(0, 400, 20)) + "\n380 40\n", "not a closed loop|runs into itself"),
    ("0 0\n100 100\n100 0\n0 100\n", "crosses itself|runs into itself"),
    ("0 0\n100 0\n100 60\n50 0\n0 60\n", "runs into itself|crosses itself"),
])
def test_malformed_points_files(tmp_path, content, match):
    path = tmp_path / "oval.txt"
    path.write_text(content)
    with pytest.raises(ConfigError, match=match):
        load_points_file(path)


def test_open_path_is_not_a_closed_loop(tmp_path):
    path = tmp_path / "open.txt"
    a = np.linspace(0, 1.5 * math.pi, 30)        # three quarters of a circle: the gap is 70 m
    path.write_text("\n".join(f"{50 * math.cos(t):.2f} {50 * math.sin(t):.2f}" for t in a))
    with pytest.raises(ConfigError, match="not a closed loop"):
        load_points_file(path)


def test_unknown_circuit_lists_the_known_ones():
    with pytest.raises(ConfigError, match="unknown circuit 'monza'.*simple_circuit"):
        circuits.load("monza")
    with pytest.raises(ConfigError, match="does not exist"):
        circuits.load("/nonexistent/track.txt")


def test_kinematics_straight_turn_and_acceleration_limit():
    s = CarState()
    for _ in range(100):
        s = kinematics.step(s, 5.0, 0.0, 0.01)
    assert s.v == 5.0 and s.y == pytest.approx(0.0)
    assert s.x == pytest.approx(5.0 - 0.5 * 5.0 ** 2 / kinematics.MAX_ACCEL, abs=0.01)   # ramp, then cruise
    turn = CarState(v=4.0, w=0.5)
    for _ in range(int(2 * math.pi / 0.5 / 0.01)):   # one full circle of radius v/w = 8 m
        turn = kinematics.step(turn, 4.0, 0.5, 0.01)
    assert (turn.x, turn.y) == pytest.approx((0.0, 0.0), abs=0.05)
    assert kinematics.step(CarState(), 100.0, 0.0, 0.1).v == pytest.approx(kinematics.MAX_ACCEL * 0.1)


def test_rendering_is_deterministic_and_sees_the_line(ring):
    renderer = Renderer(ring)
    x, y, heading = ring.pose_at(40.0)
    a, b = renderer.render(x, y, heading), renderer.render(x, y, heading)
    assert a.shape == (480, 640, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert np.array_equal(Renderer(ring).render(x, y, heading), a)         # same for a new renderer
    # On an anticlockwise 50 m ring the line 4 m ahead lies 4**2 / (2 * 50) = 0.16 m left: -0.05 in the image.
    assert -0.08 < line_error(a, 300) < -0.03
    assert line_error(renderer.render(x, y, heading + 0.3), 300) > 0.1      # turned left: line to the right
    other = Renderer(ring, Appearance.varied(3)).render(x, y, heading)
    assert not np.array_equal(other, a)
    assert np.array_equal(other, Renderer(ring, Appearance.varied(3)).render(x, y, heading))


def test_off_track_stuck_and_timeout(ring):
    sim = Simulation(ring, RunLimits(timeout=100))
    sim.advance(5.0, 5.0, 2.0)                      # hard left turn: leaves the road
    assert sim.ended and sim.end_reason.startswith("off track")
    sim = Simulation(ring, RunLimits(timeout=100, stuck_time=3.0, start_grace=1.0))
    sim.advance(10.0, 0.0, 0.0)
    assert sim.end_reason.startswith("stuck") and sim.time == pytest.approx(4.0, abs=0.02)
    sim = Simulation(ring, RunLimits(timeout=2.0))
    sim.advance(5.0, 1.0, 1.0 / 50)                # follows the ring slowly
    assert sim.end_reason.startswith("timeout") and sim.time == pytest.approx(2.0, abs=0.02)


def test_laps_count_in_both_directions_from_any_start(ring):
    for reverse in (False, True):
        sim = Simulation(ring, RunLimits(laps=2, timeout=1000), start_s=100.0, reverse=reverse)
        sign = -1 if reverse else 1
        while not sim.ended:   # steer so the turn radius v / w stays the ring's 50 m while accelerating
            sim.advance(0.01, 10.0, sign * sim.car.v / 50.0)
        assert sim.end_reason == "completed 2 lap(s)"
        lap_time = ring.length / 10.0
        assert [lap.lap_time for lap in sim.laps] == pytest.approx([lap_time + 0.5, lap_time], abs=0.1)
        assert all(lap.max_abs_offset < 0.5 for lap in sim.laps)
    sim.reset()
    assert sim.laps == [] and sim.time == 0.0 and not sim.ended


def test_explicit_brain_laps_simple_circuit_offline():
    sim = offline.drive(circuits.named("simple_circuit"), ExplicitBrain(), RunLimits(laps=1, timeout=200))
    assert sim.end_reason == "completed 1 lap(s)"
    assert 60 < sim.laps[0].lap_time < 90 and sim.laps[0].max_abs_offset < 1.0


@pytest.mark.slow
@pytest.mark.parametrize("name", [c for c in circuits.CIRCUITS if c != "simple_circuit"])
def test_explicit_brain_laps_every_circuit_offline(name):
    sim = offline.drive(circuits.named(name), ExplicitBrain(), RunLimits(laps=1, timeout=400))
    assert sim.end_reason == "completed 1 lap(s)", sim.end_reason
    assert sim.laps[0].max_abs_offset < 1.0
