"""The embedded simulator without ROS: circuit geometry, kinematics, rendering, end conditions, laps."""
import math

import numpy as np
import pytest

from f1_brains.core.explicit import ExplicitBrain, line_error
from f1_brains.errors import ConfigError
from f1_brains.sim import kinematics, offline
from f1_brains.sim.command_delay import DelayedCommands
from f1_brains.sim.kinematics import CarState
from f1_brains.sim.renderer import Appearance, Renderer
from f1_brains.sim.simulation import RunLimits, Simulation
from f1_brains.worlds import circuits
from f1_brains.worlds.track import Track, load_points_file


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


def test_steps_along_the_line_go_the_short_way_round(ring):
    assert ring.step_along(ring.length - 1.0, 1.0) == pytest.approx(2.0)      # across the start, forwards
    assert ring.step_along(1.0, ring.length - 1.0) == pytest.approx(-2.0)     # and backwards
    assert ring.step_along(10.0, 13.5) == pytest.approx(3.5)


def test_projection_is_exact_and_signed(ring):
    for angle in (0.3, 2.0, 4.4):
        for offset in (-2.5, 0.0, 1.7):   # positive: to the left of the driving direction (inside)
            r = 50 - offset
            p = ring.project(r * math.cos(angle), r * math.sin(angle))
            assert p.offset == pytest.approx(offset, abs=0.01)
            assert p.s == pytest.approx(angle * 50, abs=0.3)


# Facts measured from CustomRobots' meshes (../shared/worlds/README.md): red line length (m), tightest
# radius (m), median road width between the walls (m), spawn pose from the .world.
REAL = {"simple_circuit": (429, 6.2, 3.10, (53.462, -10.734, -1.57)),
        "many_curves": (794, 3.9, 2.40, (0.01, -0.02, -1.73)),
        "montreal": (1433, 6.2, 3.02, (-200.88, -90.72, -2.83)),
        "montmelo": (737, 3.8, 2.98, (27.18, -31.55, -3.12)),
        "nurburgring": (555, 2.6, 3.30, (-74.29, 37.74, -0.51))}


@pytest.mark.parametrize("name", list(circuits.CIRCUITS))
def test_named_circuits_are_the_real_ones(name):
    track = circuits.named(name)
    length, radius, road, spawn = REAL[name]
    assert track.length == pytest.approx(length, rel=5e-3)
    smoothed = np.convolve(track.curvature(), np.ones(20) / 20, "same")     # over 10 m of line
    assert 0.75 * radius < 1 / np.abs(smoothed).max() < 1.3 * radius
    assert np.sum(track.curvature() * track._seg_len) == pytest.approx(-2 * math.pi, abs=0.05)   # clockwise
    assert track.width == pytest.approx(road, abs=0.1)
    assert (track.spawn.x, track.spawn.y, track.spawn.yaw) == spawn
    assert abs(track.project(track.spawn.x, track.spawn.y).offset) < 0.1      # spawned on the red line
    assert circuits.load(f"{name}_line" if name in ("montreal", "montmelo", "nurburgring") else name).name == name


def test_the_car_starts_at_the_worlds_spawn_pose():
    track = circuits.named("montreal")
    sim = Simulation(track)
    assert (sim.car.x, sim.car.y, sim.car.yaw) == pytest.approx((-200.88, -90.72, -2.83))
    sim.advance(1.0, 2.0, 0.0)                      # clockwise from the spawn: progress is positive
    assert sim.progress == pytest.approx(2.0, abs=0.05)


BAGS = {"simple_circuit": "simple-circuit", "many_curves": "many-curves", "montreal": "montreal",
        "montmelo": "montmelo", "nurburgring": "nurburgring"}


@pytest.mark.parametrize("name", list(circuits.CIRCUITS))
def test_perfect_lap_bags_lie_on_our_centre_lines(real_worlds, name):
    from f1_brains.ros.recorder import load_reference
    _, points = load_reference(bag=str(real_worlds / "bm_perfect_bags" / f"lap-{BAGS[name]}.bag"))
    track = circuits.named(name)
    distance = np.array([abs(track.project(x, y).offset) for x, y in points[::5]])
    assert np.median(distance) < 0.25


def test_world_import_reproduces_the_shipped_circuit_data(real_worlds, tmp_path):
    import json

    from f1_brains.worlds.import_circuits import import_circuits
    import_circuits(real_worlds / "customrobots_f1", tmp_path, names=["simple_circuit", "nurburgring"])
    for name in ("simple_circuit", "nurburgring"):
        ours = json.loads((tmp_path / f"{name}.json").read_text())
        shipped = json.loads((circuits.DATA_DIR / f"{name}.json").read_text())
        assert ours["spawn"] == shipped["spawn"] and ours["world"] == shipped["world"]
        np.testing.assert_allclose(ours["points"], shipped["points"], atol=1e-3)


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
    ("0 0\n100 0\n100 60\n50 -5\n0 60\n", "runs into itself|crosses itself"),
    ("5 5\n5 5\n5 5\n5 5\n5 5\n", "its points span 0 m"),                # five identical points
    ("0 0\n1e300 0\n1e300 1e300\n0 1e300\n", "lies 1e\\+300 m from the origin"),
])
def test_malformed_points_files(tmp_path, content, match):
    path = tmp_path / "oval.txt"
    path.write_text(content)
    with pytest.raises(ConfigError, match=match):
        load_points_file(path)


@pytest.mark.parametrize("header,match", [
    ("# road_width: wide", "road_width 'wide' is not a number"),
    ("# road_width: 0.1", "road width 0.1 m is outside"),
    ("# road_width: nan", "road width nan m is outside"),
    ("# walls: maybe", "walls must be yes or no, not 'maybe'"),
])
def test_malformed_points_file_settings(tmp_path, header, match):
    path = tmp_path / "oval.txt"
    path.write_text(header + "\n" + "\n".join(f"{x:.3f} {y:.3f}" for x, y in circle(60, 16)))
    with pytest.raises(ConfigError, match=match):
        load_points_file(path)


def test_a_binary_points_file_is_refused(tmp_path):
    path = tmp_path / "track.txt"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ConfigError, match="not a text file"):
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


def test_planar_move_applies_the_command_at_once_and_honours_linear_y():
    s = CarState()
    for _ in range(100):
        s = kinematics.step(s, 5.0, 0.0, 0.01)
    assert s.v == 5.0 and (s.x, s.y) == pytest.approx((5.0, 0.0))        # no ramp: Gazebo's planar move
    turn = CarState()
    for _ in range(int(round(2 * math.pi / 0.5 / 0.01))):   # one full circle of radius v/w = 8 m
        turn = kinematics.step(turn, 4.0, 0.5, 0.01)
    assert (turn.x, turn.y) == pytest.approx((0.0, 0.0), abs=0.05)
    side = kinematics.step(CarState(yaw=math.pi / 2), 0.0, 0.0, 1.0, vy_cmd=2.0)   # facing +y, moving left
    assert (side.x, side.y) == pytest.approx((-2.0, 0.0))
    limited = kinematics.step(CarState(), 100.0, 0.0, 0.1, accel=kinematics.Accel(linear=10.0))
    assert limited.v == pytest.approx(1.0)                    # the optional acceleration limit
    assert kinematics.step(CarState(), 100.0, 0.0, 0.1).v == kinematics.MAX_SPEED


def test_commands_land_after_their_latency_even_several_periods_later(ring):
    """A command decided on frame k drives from k * 50 ms + latency on; with 120 ms, three are in flight."""
    sim = Simulation(ring, RunLimits(laps=0, timeout=0, stuck_time=0), start_s=0.0)
    commands = DelayedCommands(0.12)
    landings = []
    speeds = []
    for k in range(8):
        commands.decide((float(k + 1), 0.0))          # frame k asks for k + 1 m/s
        sim.camera_period(commands, 0.05, at_landing=lambda: landings.append(round(sim.time, 6)))
        speeds.append(sim.car.v)
    assert landings == pytest.approx([0.12 + 0.05 * k for k in range(6)])
    assert speeds == [0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]   # at each period's end: two periods behind
    start = ring.pose_at(0.0)
    # metres driven: 0.05 s each at 1..5 m/s from 0.12 s on, then 6 m/s from 0.37 s to the end (0.4 s)
    assert math.hypot(sim.car.x - start[0], sim.car.y - start[1]) == pytest.approx(
        0.05 * (1 + 2 + 3 + 4 + 5) + 0.03 * 6, rel=1e-3)
    with pytest.raises(ValueError, match="cannot be negative"):
        DelayedCommands(-0.01)


def test_a_short_latency_drives_as_before_and_a_long_one_costs_the_expert_time():
    track = circuits.named("simple_circuit")
    brain = ExplicitBrain()
    quick = offline.drive(track, brain, latency=0.02)
    late = offline.drive(track, ExplicitBrain(), latency=0.12)
    assert quick.end_reason == late.end_reason == "completed 1 lap(s)"
    assert late.laps[0].mean_abs_offset > quick.laps[0].mean_abs_offset   # it sees its corrections later


def test_rendering_is_deterministic_and_sees_the_line_and_the_walls(ring):
    renderer = Renderer(ring)
    x, y, heading = ring.pose_at(40.0)
    a, b = renderer.render(x, y, heading), renderer.render(x, y, heading)
    assert a.shape == (480, 640, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert np.array_equal(Renderer(ring).render(x, y, heading), a)         # same for a new renderer
    # The camera sits 0.04 m left of the car's axis: the line, 1.0 m ahead of the car and 0.01 m left on
    # this 50 m ring, lies 0.03 m right of the camera: 0.03 / 0.55 m * 320 px = 17 px = +0.055.
    assert 0.035 < line_error(a, 300) < 0.075
    assert line_error(renderer.render(x, y, heading + 0.3), 300) > 0.1      # turned left: line to the right
    wall = np.array(ring.light.wall_colour) * 255         # no sun on this ring: the material as it is
    for col in (5, 634):                   # 1.5 m walls either side rise above the horizon at the edges
        assert np.abs(a[230, col].astype(int) - wall).max() <= 3
    assert np.abs(a[50, 320].astype(int) - wall).max() > 30                  # sky above the road ahead
    other = Renderer(ring, Appearance.varied(3)).render(x, y, heading)
    assert not np.array_equal(other, a)
    assert np.array_equal(other, Renderer(ring, Appearance.varied(3)).render(x, y, heading))


def test_rendering_into_a_reused_buffer_draws_the_same_frame():
    """The simulator renders into the last frame's buffer: the walls and markings must land in it, not in a copy."""
    track = circuits.load("simple_circuit")
    renderer = Renderer(track)
    buffer = None
    for s in (0.0, 3.0, 120.0, 250.0):   # the start line's markings in view, then bends between walls
        pose = track.pose_at(s)
        buffer = renderer.render(*pose, out=buffer)
        np.testing.assert_array_equal(buffer, Renderer(track).render(*pose))


def test_a_road_without_walls_shows_the_grass(tmp_path):
    path = tmp_path / "open.txt"
    path.write_text("# walls: no\n# road_width: 4\n" + "\n".join(f"{x:.3f} {y:.3f}" for x, y in circle(50, 24)))
    track = load_points_file(path)
    assert not track.walled and track.width == pytest.approx(4.0)
    image = Renderer(track).render(*track.pose_at(0.0))
    grass = np.array(Appearance().grass)
    assert np.abs(image[250, 5].astype(int) - grass).max() <= 20              # beyond the road, no wall
    assert load_points_file(path, road_width=6.0, walled=True).walled


def test_circuits_too_large_to_render_are_refused():
    huge = Track("huge", circle(radius=2500.0, n=64))
    with pytest.raises(ConfigError, match="too large to render"):
        Renderer(huge)


def test_hitting_the_wall_stuck_and_timeout(ring):
    sim = Simulation(ring, RunLimits(timeout=100))
    sim.advance(5.0, 5.0, 2.0)                      # hard left turn: into the inner wall
    assert sim.ended and sim.end_reason.startswith("hit the wall: the left wall, 1.50 m")
    assert sim.offset == pytest.approx(1.5 - 0.2, abs=0.05)      # the body's side touches the wall
    sim = Simulation(ring, RunLimits(timeout=100, stuck_time=3.0, start_grace=1.0))
    sim.advance(10.0, 0.0, 0.0)
    assert sim.end_reason.startswith("stuck") and sim.time == pytest.approx(4.0, abs=0.02)
    sim = Simulation(ring, RunLimits(timeout=2.0))
    sim.advance(5.0, 1.0, 1.0 / 50)                # follows the ring slowly
    assert sim.end_reason.startswith("timeout") and sim.time == pytest.approx(2.0, abs=0.02)


def test_off_track_without_walls(tmp_path):
    path = tmp_path / "open.txt"
    path.write_text("# walls: no\n" + "\n".join(f"{x:.3f} {y:.3f}" for x, y in circle(50, 24)))
    sim = Simulation(load_points_file(path), RunLimits(timeout=100))
    sim.advance(5.0, 5.0, 2.0)
    assert sim.end_reason.startswith("off track") and abs(sim.offset) > 1.5 + 1.0


def test_laps_count_in_both_directions_from_any_start(ring):
    for reverse in (False, True):
        sim = Simulation(ring, RunLimits(laps=2, timeout=1000), start_s=100.0, reverse=reverse)
        sign = -1 if reverse else 1
        while not sim.ended:
            sim.advance(0.01, 10.0, sign * 10.0 / 50.0)
        assert sim.end_reason == "completed 2 lap(s)"
        lap_time = ring.length / 10.0
        assert [lap.lap_time for lap in sim.laps] == pytest.approx([lap_time, lap_time], abs=0.1)
        assert all(lap.max_abs_offset < 0.5 for lap in sim.laps)
    sim.reset()
    assert sim.laps == [] and sim.time == 0.0 and not sim.ended


def test_explicit_brain_laps_simple_circuit_offline():
    sim = offline.drive(circuits.named("simple_circuit"), ExplicitBrain(), RunLimits(laps=1, timeout=200))
    assert sim.end_reason == "completed 1 lap(s)"
    assert 35 < sim.laps[0].lap_time < 75 and sim.laps[0].mean_abs_offset < 0.1


@pytest.mark.slow
@pytest.mark.parametrize("name", [c for c in circuits.CIRCUITS if c != "simple_circuit"])
def test_explicit_brain_laps_every_circuit_offline(name):
    sim = offline.drive(circuits.named(name), ExplicitBrain(), RunLimits(laps=1, timeout=400))
    assert sim.end_reason == "completed 1 lap(s)", sim.end_reason
    assert sim.laps[0].mean_abs_offset < 0.1
