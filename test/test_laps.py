"""Lap statistics on synthetic trajectories whose answers are known."""
import math

import numpy as np
import pytest

from f1_brains.errors import ConfigError
from f1_brains.results.laps import (
    FrameSample,
    LapSplitter,
    OdomSample,
    lap_statistics,
    run_statistics,
    reference_from_points,
    suddenness,
)
from f1_brains.worlds.track import Track

R, SPEED, RATE = 50.0, 10.0, 20.0


@pytest.fixture(scope="module")
def ring() -> Track:
    a = np.linspace(0, 2 * math.pi, 36, endpoint=False)
    return Track("ring", np.column_stack([R * np.cos(a), R * np.sin(a)]))


def drive(offset: float = 0.0, start_angle: float = 0.3, direction: int = 1, seconds: float = 80.0,
          t0: float = 0.0) -> list[OdomSample]:
    """Odometry at RATE Hz of a car circling the ring ``offset`` m to the left of the line, at SPEED."""
    radius = R - direction * offset          # left of the driving direction: inside when anticlockwise
    rate = direction * SPEED / radius
    return [OdomSample(t0 + i / RATE, t0 + i / RATE, radius * math.cos(start_angle + rate * i / RATE),
                       radius * math.sin(start_angle + rate * i / RATE), SPEED)
            for i in range(int(seconds * RATE))]


def split(ring: Track, odom: list[OdomSample]) -> LapSplitter:
    splitter = LapSplitter(ring)
    for o in odom:
        splitter.add_odom(o)
    return splitter


def test_constant_offset_lap_has_exact_deviation_and_lap_time(ring):
    splitter = split(ring, drive(offset=0.5, seconds=40))
    lap = splitter.laps[0]
    assert lap.complete and not splitter.laps[1].complete and len(splitter.laps) == 2
    # One lap = one reference length of progress = a full turn, at radius 49.5 m and 10 m/s.
    assert lap.end_t - lap.start_t == pytest.approx(2 * math.pi * 49.5 / SPEED, abs=2e-3)
    stats = lap_statistics(lap, ring, target_rate=RATE)
    assert stats["position_deviation_mae_m"] == pytest.approx(0.5, abs=0.01)
    assert stats["position_deviation_max_m"] == pytest.approx(0.5, abs=0.01)
    assert stats["position_deviation_rmse_m"] == pytest.approx(0.5, abs=0.01)
    assert stats["average_speed"] == pytest.approx(SPEED, rel=2e-3)
    assert stats["percentage_completed"] == 100.0 and stats["lap_seconds"] == pytest.approx(31.1, abs=0.01)


def test_reversed_direction_is_still_one_lap(ring):
    splitter = split(ring, drive(direction=-1, start_angle=2.0, seconds=40))
    assert [lap.complete for lap in splitter.laps] == [True, False]
    assert splitter.laps[0].end_t - splitter.laps[0].start_t == pytest.approx(2 * math.pi * R / SPEED, abs=2e-3)


def test_consecutive_laps_share_their_boundary(ring):
    splitter = split(ring, drive(seconds=100))
    full = [lap for lap in splitter.laps if lap.complete]
    assert len(full) == 3
    assert all(a.end_t == b.start_t for a, b in zip(full, full[1:]))


def test_reset_mid_lap_invalidates_the_lap_and_starts_over(ring):
    first = drive(seconds=10)
    after = drive(start_angle=0.3, seconds=40, t0=10.05)   # teleported back to the start
    splitter = split(ring, first + after)
    assert splitter.laps[0].invalid_reason.startswith("odometry jumped") and not splitter.laps[0].complete
    assert splitter.laps[1].complete    # a full lap after the reset still counts
    stats = lap_statistics(splitter.laps[0], ring, RATE)
    assert stats["lap_seconds"] is None and 0 < stats["percentage_completed"] < 100


def test_missing_odometry_invalidates_the_lap(ring):
    odom = drive(seconds=30)
    splitter = split(ring, odom[:100] + odom[150:])         # 2.5 s without odometry
    assert "odometry missing for 2.5 s" in splitter.laps[0].invalid_reason


def test_suddenness_and_timing_summaries(ring):
    frames = [FrameSample(i / 20, i / 20, 5, 0, 5.0 + (i % 2), 0.0, 0.001 * (1 + i % 3), 0.004, 0.0004)
              for i in range(21)]
    assert suddenness(frames) == pytest.approx(1.0)
    lap = split(ring, drive(seconds=40)).laps[0]
    lap.frames = frames
    stats = lap_statistics(lap, ring, RATE)
    assert stats["inference_time"]["n"] == 21 and stats["inference_time"]["p50_ms"] == pytest.approx(2.0)
    assert stats["end_to_end_latency"]["p50_ms"] == pytest.approx(4.0)


@pytest.mark.parametrize("points", [np.zeros((0, 2)), np.array([[1.0, 2.0]])])
def test_empty_or_one_point_reference_is_refused(points):
    with pytest.raises(ConfigError, match="reference line 'bag'"):
        reference_from_points("bag", points)


def test_a_reset_mid_run_adds_neither_time_nor_distance_to_the_whole_run(ring):
    """Gazebo's reset_simulation puts the clock back to 0 and the car back at the start: the whole-run numbers
    sum the laps on either side (they used to read 17.0 m/s and 34.4 Hz for a 9 m/s, 20 Hz run)."""
    before = drive(seconds=10, t0=30.0)
    after = drive(seconds=40, t0=0.0)            # sim time restarted; the car back at its start
    for i, o in enumerate(after):                # wall time goes on
        after[i] = OdomSample(o.t, o.wall + 40.0, o.x, o.y, o.speed)
    splitter = LapSplitter(ring)
    for o in before + after:
        splitter.add_odom(o)
        splitter.add_frame(FrameSample(o.t, o.wall, 1.0, 0.0, 1.0, 0.0, 1e-3, None, 1e-4, 1e-3))
    run = run_statistics(splitter.laps, ring, RATE)
    assert run["average_speed"] == pytest.approx(SPEED, rel=0.01)
    assert run["brain_iterations_frequency_simulated_time"] == pytest.approx(RATE, rel=0.01)
    assert run["brain_iterations_frequency_real_time"] == pytest.approx(RATE, rel=0.01)
    assert run["sim_time_s"] == pytest.approx(50.0, abs=0.2)
    assert run["completed_distance"] == pytest.approx(SPEED * 50.0, rel=0.01)
