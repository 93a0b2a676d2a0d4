"""BehaviorMetrics' keys as BM's own metric code computes them: our results/bm_metrics.py against fixtures made by
running BM's utils/metrics_gazebo.py on the recordings of test/bm_cases.py (test/make_bm_fixtures.py says how),
plus the definitions on geometry whose answers are known."""
import json
import math
from pathlib import Path

import numpy as np
import pytest

import bm_cases
from f1_brains.results import bm_metrics
from f1_brains.results.laps import FrameSample

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "bm_metrics.json").read_text())
EXACT = ("experiment_total_simulated_time", "lap_seconds")            # whole seconds
WITHIN_1_PERCENT = ("completed_distance", "average_speed", "percentage_completed", "circuit_diameter")
DEVIATION = ("position_deviation_mae", "position_deviation_total_err")   # BM's optimizers are randomized: 2%
# Driving against the reference, BM's deviation walk follows the checkpoints forward along a trajectory that goes
# the other way: its number (98.7 over 178 checkpoints) is where its optimizer wanders, not a deviation; ours stops
# after 6. Distance, completion and times are still compared.
DEVIATION_UNDEFINED = {"simple_reverse"}


def ring(radius: float = 50.0, n: int = 2000) -> np.ndarray:
    a = np.linspace(0, 2 * math.pi, n, endpoint=False)
    return np.column_stack([radius * np.cos(a), radius * np.sin(a)])


@pytest.mark.skipif(not bm_cases.BAGS.is_dir(), reason=f"BM's perfect-lap bags are not here ({bm_cases.BAGS})")
@pytest.mark.parametrize("case", bm_cases.CASES, ids=lambda c: c.name)
def test_our_bm_keys_equal_bm_own_metric_code(case):
    fixture = FIXTURES["cases"][case.name]
    positions, times = bm_cases.recording(case)
    assert fixture["case"] == case.__dict__ and fixture["samples"] == len(positions), \
        "the recording changed since the fixtures were made: rerun test/make_bm_fixtures.py"
    clock = bm_cases.clock(times)
    ours = bm_metrics.recording_metrics(positions, times, clock[0], clock[-1], bm_cases.reference(case))
    for bm in fixture["bm"]:
        assert set(ours) == set(bm), f"keys: ours {sorted(ours)}, BM's {sorted(bm)}"
        for key in EXACT:
            assert ours.get(key) == bm.get(key), key
        for key in WITHIN_1_PERCENT:
            if key in bm:
                assert ours[key] == pytest.approx(bm[key], rel=0.01), key
        if case.name not in DEVIATION_UNDEFINED:
            for key in DEVIATION:
                assert ours[key] == pytest.approx(bm[key], rel=0.02), key


def test_fixtures_cover_every_case_and_were_made_by_bm():
    assert set(FIXTURES["cases"]) == {c.name for c in bm_cases.CASES}
    assert "metrics_gazebo.py" in FIXTURES["made_by"] and all(len(c["bm"]) >= 2 for c in FIXTURES["cases"].values())


def test_times_are_whole_seconds_of_the_clock():
    assert bm_metrics.whole_seconds(3.4, 78.86) == 75 and bm_metrics.whole_seconds(3.99, 4.01) == 1
    m = bm_metrics.recording_metrics(ring()[:40], np.arange(40) * 0.05 + 0.96, 0.96, 2.91, ring())
    assert m["experiment_total_simulated_time"] == 2 and m["average_speed"] == pytest.approx(m["completed_distance"] / 2)


def test_circuit_diameter_stops_at_the_first_return_to_the_start():
    loop = ring()
    overshoot = np.vstack([loop, loop[:150]])             # a reference that runs on past its start
    step = 2 * math.pi * 50 / 2000                         # its first sample within 1 m of the start: 1994
    assert bm_metrics.circuit_diameter(overshoot) == pytest.approx(1994 * step, rel=1e-4)
    half = loop[:1000]                                     # never returns: its whole length
    assert bm_metrics.circuit_diameter(half) == pytest.approx(math.pi * 50, rel=1e-2)


def test_checkpoints_passed_count_from_the_nearest_over_the_whole_recording():
    loop = ring()                                          # checkpoints 0.157 m apart
    pct, lap = bm_metrics.checkpoints_passed(loop[500:1500:5], loop)   # half a lap from a quarter
    assert pct == pytest.approx(100 * (1000 + 5 / 0.157) / 2000, abs=0.5) and lap is None
    pct, lap = bm_metrics.checkpoints_passed(np.vstack([loop, loop[:400]])[::5], loop)   # 1.2 laps
    assert pct > 100 and lap is not None and lap * 5 < 2000
    pct, _ = bm_metrics.checkpoints_passed(loop[::-5], loop)          # the other direction counts too
    assert pct > 99


def test_spline_deviation_is_exponential_and_stops_where_the_car_stopped():
    reference = ring()[::10]
    mae, total = bm_metrics.spline_deviation(ring(50.5)[::20], reference)   # 0.5 m inside the line
    assert mae == pytest.approx(1000 ** 0.5, rel=0.01)                     # 31.6: BM's scale, not metres
    assert total == pytest.approx(mae * 190, rel=0.06)                     # checkpoints up to the end
    stopped = np.vstack([ring()[:1000:20], np.repeat(ring()[1000:1001], 40, axis=0)])   # stops half way
    errors = bm_metrics.deviation_errors(stopped, ring()[::2])             # checkpoints 0.31 m apart
    # 500 checkpoints on the line (1000**0 each), then a few past the stopped car, further and further away, until
    # the match has not moved 4 times: the walk ends there, not at the reference's end (1000 checkpoints).
    assert 500 <= len(errors) <= 505 and np.allclose(errors[:495], 1.0, atol=0.2)   # spline ripples: cm
    assert errors[-1] > 10 and np.all(np.diff(errors[-3:]) > 0)
    assert math.isnan(bm_metrics.spline_deviation(ring()[:1], reference)[0])


def test_a_trajectory_far_from_the_line_is_an_infinite_deviation_not_an_error():
    """1000**d is no float past d = 102.8 m: a car that hit the wall early, matched against checkpoints a circuit
    away, raised OverflowError in the brain node's last write and cost the run its files."""
    reference = ring(radius=400.0)[::10]
    trajectory = ring(radius=550.0)[:40]                                 # 150 m off the line
    mae, total = bm_metrics.spline_deviation(trajectory, reference)
    assert math.isinf(mae) and math.isinf(total)
    assert json.loads(json.dumps({"mae": mae}))["mae"] == math.inf       # run.json writes it as Infinity


def frames(n: int, sim_per_frame: float = 0.0) -> list[FrameSample]:
    return [FrameSample(i / 20, i / 20, 8.0, 0.1, 8.0 + (i % 2), 0.5 * (i % 2), 0.001 * (1 + (i < 10 or i >= n - 10)),
                        sim_per_frame, 0.0003, 0.002) for i in range(n)]


def test_pilot_keys_from_the_node_frames():
    normalize = lambda v, w: np.column_stack([(v - 6.5) / 17.5, (w + 7.1) / 14.2])
    keys = bm_metrics.pilot_metrics(frames(100, 0.05), 101, 5, 0.987, 20.0, normalize)
    assert keys["mean_inference_time"] == pytest.approx(0.001)            # [10:-10]: the slow ends dropped
    assert keys["frame_rate"] == pytest.approx(101 / 5)
    assert keys["brain_iterations_frequency_real_time"] == pytest.approx(500)   # 1 / 2 ms per frame, not a rate
    assert keys["brain_iterations_frequency_simulated_time"] == pytest.approx(20)
    assert keys["target_brain_iterations_simulated_time"] == pytest.approx(20 / 0.99)
    assert keys["suddenness_distance"] == pytest.approx(math.hypot(1 / 17.5, 0.5 / 14.2))   # network's units
    lockstep = bm_metrics.pilot_metrics(frames(15), 15, 0, None, 20.0)
    assert lockstep["brain_iterations_frequency_simulated_time"] is None   # sim time stands still: BM divides by 0
    assert lockstep["mean_inference_time"] is None and lockstep["frame_rate"] is None   # < 21 frames; no seconds


def descend_one_sample_at_a_time(search, p: np.ndarray, t0: float) -> tuple[float, float]:
    """The local descent as the module docstring defines it, one dense sample per step."""
    i = int(round(min(max(t0, 0.0), search.last_t) / search.h))
    d2 = lambda j: (search._x[j] - p[0]) ** 2 + (search._y[j] - p[1]) ** 2   # noqa: E731
    step = -1 if i > 0 and d2(i - 1) < d2(i) else 1
    while 0 <= i + step < len(search._x) and d2(i + step) < d2(i):
        i += step
    return search._refined(p, i)


def test_local_descent_in_chunks_is_the_one_sample_descent():
    """A trajectory that turns round and comes back (as a car does at 65% of its frames dropped) sends descents
    along most of it; they go a chunk at a time and must stop where the one-sample descent stops."""
    rng = np.random.default_rng(0)
    angles = np.concatenate([np.linspace(0.0, math.pi, 150), np.linspace(math.pi, 0.2, 120)])
    trajectory = 50.0 * np.column_stack([np.cos(angles), np.sin(angles)]) + rng.normal(0.0, 0.3, (270, 2))
    search = bm_metrics._SplineSearch(trajectory)
    assert len(search.t) > 10 * bm_metrics.DESCENT_CHUNK
    for p, t0 in zip(rng.uniform(-60.0, 60.0, (400, 2)), rng.uniform(-5.0, 275.0, 400)):
        assert search.local(p, t0) == descend_one_sample_at_a_time(search, p, t0)
