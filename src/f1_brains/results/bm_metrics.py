"""BehaviorMetrics' stats keys, computed by BehaviorMetrics' definitions from one run's recording.

BM computes its numbers after a run from a bag of the whole recording (odometry and /clock) and a perfect-lap
reference whose samples are checkpoints; these functions take the same data as arrays. The definitions
(measured by running BM's own code, REFERENCE.md section 8; fixtures in test/fixtures/bm_metrics.json):

- times are whole seconds of /clock (``clock.secs``): total = last - first;
- ``completed_distance``: the length of the whole recorded trajectory; ``average_speed`` = that / total;
- ``percentage_completed``: the trajectory and the checkpoints are walked together from the checkpoint nearest
  the first position (the first counts as passed); the next checkpoint is passed when the current position is
  within 5 m of it, else the trajectory moves on; both directions, the better one. Over the whole recording, so
  more than one lap passes 100%;
- ``lap_seconds`` (only when more than 100%): whole seconds from the first clock to the position where the count
  reached every checkpoint; ``circuit_diameter``: the reference's length up to its first return within 1 m of
  its start (after 100 samples);
- ``position_deviation_mae`` / ``_total_err``: a natural cubic spline through the trajectory (parameter: sample
  index); each checkpoint in order, starting from the one nearest the first position and wrapping around, is
  matched to the nearest spline point, searched from the previous match (locally, or over the next 100 samples
  for the first three checkpoints and when the local match is more than 1 m away); d in metres gives 1000**d,
  mean and sum. The walk ends when a match falls within one sample of the trajectory's end or when the match
  stops moving (4 times less than 0.01 samples: the car has stopped), and at the latest after one pass over the
  checkpoints per reference length the trajectory covers, plus one (ours: a car that turned round and came back
  otherwise walked on for more than 15 s at shutdown). Unitless and exponential, not metres.

BM finds the spline's nearest point with randomized optimizers; here it is a dense search with a parabolic
refinement (deterministic), which agrees with BM's numbers within 2% on the fixtures.
"""
from __future__ import annotations

import math
from typing import Callable, Protocol, Sequence

import numpy as np

CHECKPOINT_RADIUS = 5.0      # m: a checkpoint is passed within this distance
FINISH_RADIUS = 1.0          # m: the reference's return to its start
FINISH_AFTER = 100           # reference samples before a return counts
GLOBAL_WINDOW = 100.0        # trajectory samples searched ahead when the local match is poor
LOCAL_MATCH_LIMIT = 1.0      # m: a local match further than this triggers the window search
SAMPLES_PER_STEP = 20        # spline evaluations per trajectory sample in the dense search
DESCENT_CHUNK = 256          # dense samples compared at once in a local descent
STALL_STEP, STALL_COUNT = 0.01, 3
OVERFLOW_DEVIATION = math.log(np.finfo(float).max, 1000.0)   # m: 1000**d past it is no float (inf, as numpy gives)


class Frame(Protocol):
    """What the pilot keys read of one answered frame (laps.FrameSample has it; laps imports this module)."""
    unclamped_v: float
    unclamped_w: float
    inference_s: float
    end_to_end_s: float | None
    receive_to_command_s: float


def path_length(points: np.ndarray) -> float:
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return float(np.hypot(*np.diff(points, axis=0).T).sum()) if len(points) > 1 else 0.0


def whole_seconds(t_first: float, t_last: float) -> int:
    """Seconds between two clock readings as BM counts them: the difference of their whole seconds."""
    return int(math.floor(t_last)) - int(math.floor(t_first))


def circuit_diameter(reference: np.ndarray) -> float:
    """The reference's length from its start to its first return within FINISH_RADIUS after FINISH_AFTER samples
    (that sample included); the whole reference when it never returns."""
    reference = np.asarray(reference, dtype=np.float64).reshape(-1, 2)
    near_start = np.hypot(*(reference - reference[0]).T) <= FINISH_RADIUS
    near_start[:FINISH_AFTER + 1] = False
    end = int(np.argmax(near_start)) if near_start.any() else len(reference) - 1
    return path_length(reference[:end + 1])


def nearest_index(points: np.ndarray, p: np.ndarray, max_distance: float = 100.0) -> int:
    """The index of the point nearest p, 0 when none is closer than max_distance."""
    d = np.hypot(*(np.asarray(points) - p).T)
    i = int(np.argmin(d))
    return i if d[i] < max_distance else 0


def checkpoints_passed(trajectory: np.ndarray, reference: np.ndarray) -> tuple[float, int | None]:
    """(percentage of checkpoints passed, trajectory index where every checkpoint had been passed once or None)."""
    trajectory = np.asarray(trajectory, dtype=np.float64).reshape(-1, 2)
    reference = np.asarray(reference, dtype=np.float64).reshape(-1, 2)
    n = len(reference)
    start = nearest_index(reference, trajectory[0])
    best, lap_index = 0, None
    for step in (1, -1):
        passed, k, i, done_at = 1, (start + step) % n, 1, None
        while i < len(trajectory):
            if math.hypot(*(reference[k] - trajectory[i])) < CHECKPOINT_RADIUS:
                passed += 1
                k = (k + step) % n
                if passed == n:
                    done_at = i
            else:
                i += 1
        best = max(best, passed)
        lap_index = done_at if done_at is not None else lap_index
    return 100.0 * best / n, lap_index


class _SplineSearch:
    """Nearest points on a natural cubic spline through a trajectory, parameterised by sample index."""

    def __init__(self, trajectory: np.ndarray) -> None:
        from scipy.interpolate import CubicSpline
        t = np.arange(len(trajectory), dtype=np.float64)
        spline = CubicSpline(t, trajectory, bc_type="natural", axis=0)
        self.h = 1.0 / SAMPLES_PER_STEP
        self.t = np.arange(0.0, t[-1] + self.h / 2, self.h)
        self.xy = spline(self.t)
        self._x, self._y = self.xy[:, 0].tolist(), self.xy[:, 1].tolist()   # floats: fast one at a time
        self.last_t = float(t[-1])

    def _d2(self, j: int, px: float, py: float) -> float:
        return (self._x[j] - px) ** 2 + (self._y[j] - py) ** 2

    def _refined(self, p: np.ndarray, i: int) -> tuple[float, float]:
        """(t, distance) at the parabola's vertex through the squared distances around dense sample i."""
        px, py = float(p[0]), float(p[1])
        b = self._d2(i, px, py)
        if 0 < i < len(self._x) - 1:
            a, c = self._d2(i - 1, px, py), self._d2(i + 1, px, py)
            curvature = a - 2 * b + c
            if curvature > 0:
                shift = min(max(0.5 * (a - c) / curvature, -1.0), 1.0)
                return float(self.t[i]) + shift * self.h, math.sqrt(max(b - 0.25 * (a - c) * shift, 0.0))
        return float(self.t[i]), math.sqrt(b)

    def local(self, p: np.ndarray, t0: float) -> tuple[float, float]:
        """Descend the distance from t0 to the nearest local minimum. A chunk of dense samples at a time: a
        trajectory that doubles back can send a descent along most of it, for each checkpoint."""
        i = int(round(min(max(t0, 0.0), self.last_t) / self.h))
        px, py = float(p[0]), float(p[1])
        step = -1 if i > 0 and self._d2(i - 1, px, py) < self._d2(i, px, py) else 1
        last = len(self._x) - 1
        while True:
            end = min(i + DESCENT_CHUNK, last) if step > 0 else max(i - DESCENT_CHUNK, 0)
            chunk = self.xy[i:end + 1] if step > 0 else self.xy[end:i + 1][::-1]
            d2 = (chunk[:, 0] - px) ** 2 + (chunk[:, 1] - py) ** 2
            stops = np.flatnonzero(d2[1:] >= d2[:-1])   # the first sample whose next one is no nearer
            if stops.size or end in (0, last):
                return self._refined(p, i + step * int(stops[0]) if stops.size else end)
            i = end

    def window(self, p: np.ndarray, t0: float) -> tuple[float, float]:
        """The nearest spline point with t in [t0, t0 + GLOBAL_WINDOW]."""
        lo = int(math.ceil(max(t0, 0.0) / self.h))
        hi = min(int((t0 + GLOBAL_WINDOW) / self.h) + 1, len(self.t))
        if lo >= hi:
            return self._refined(p, len(self.t) - 1)
        i = lo + int(np.argmin(np.sum((self.xy[lo:hi] - p) ** 2, axis=1)))
        return self._refined(p, i)


def deviation_errors(trajectory: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """1000**d for each checkpoint the deviation walk matched, in walk order (module docstring)."""
    trajectory = np.asarray(trajectory, dtype=np.float64).reshape(-1, 2)
    reference = np.asarray(reference, dtype=np.float64).reshape(-1, 2)
    if len(trajectory) < 2 or len(reference) == 0:
        return np.array([])
    search = _SplineSearch(trajectory)
    order = np.roll(np.arange(len(reference)), -nearest_index(reference, trajectory[0]))
    errors: list[float] = []
    previous, stalled = 0.0, 0
    # at most one pass over the checkpoints per lap the trajectory's length could hold, plus one: a walk that
    # neither reaches the trajectory's end nor stalls (a car that turned round) ends there too
    passes = math.ceil(path_length(trajectory) / max(path_length(reference), 1e-9)) + 1
    for n, k in enumerate(np.resize(order, len(reference) * passes)):
        p = reference[k]
        t, d = search.local(p, previous)
        if d > LOCAL_MATCH_LIMIT or n < 3:
            t, d = search.window(p, previous)
        if t > search.last_t - 1:
            break
        stalled = stalled + 1 if abs(t - previous) < STALL_STEP else 0
        if stalled > STALL_COUNT:
            break
        previous = t
        errors.append(1000.0 ** d if d < OVERFLOW_DEVIATION else math.inf)
    return np.array(errors)


def spline_deviation(trajectory: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """(position_deviation_mae, position_deviation_total_err) as BM defines them; (nan, nan) for < 2 samples."""
    if len(np.asarray(trajectory).reshape(-1, 2)) < 2:
        return float("nan"), float("nan")
    errors = deviation_errors(trajectory, reference)
    return (float(errors.mean()), float(errors.sum())) if errors.size else (0.0, 0.0)


def recording_metrics(positions: np.ndarray, times: np.ndarray, clock_first: float, clock_last: float,
                      reference: np.ndarray) -> dict:
    """BM's trajectory keys for one recording: ``positions`` (N x 2, odometry in order), ``times`` (the sim time
    of each), the first and last /clock readings of the recording, the reference checkpoints."""
    positions = np.asarray(positions, dtype=np.float64).reshape(-1, 2)
    total = whole_seconds(clock_first, clock_last)
    if len(positions) < 2:
        return {"completed_distance": 0.0, "average_speed": 0.0, "percentage_completed": 0.0,
                "position_deviation_mae": 0.0, "position_deviation_total_err": 0.0,
                "experiment_total_simulated_time": total}
    distance = path_length(positions)
    percentage, lap_index = checkpoints_passed(positions, reference)
    mae, total_err = spline_deviation(positions, reference)
    metrics = {"completed_distance": distance, "average_speed": distance / total if total else 0.0,
               "percentage_completed": percentage, "position_deviation_mae": mae,
               "position_deviation_total_err": total_err, "experiment_total_simulated_time": total}
    if percentage > 100.0 and lap_index is not None:
        metrics["lap_seconds"] = whole_seconds(clock_first, float(times[lap_index]))
        metrics["circuit_diameter"] = circuit_diameter(reference)
    return metrics


def pilot_metrics(frames: Sequence[Frame], frames_received: int, total_seconds: int,
                  real_time_factor: float | None, target_rate: float,
                  normalize: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None) -> dict:
    """The keys BM's pilot adds from its brain loop, with our node's frames in place of BM's execute() calls: one
    frame's work (image received to command published) is one execute(). ``normalize`` maps (v, w) back to the
    network's outputs (BM's suddenness is measured on them); None when the brain has no network."""
    inference = [f.inference_s for f in frames][10:-10]
    per_frame = [f.receive_to_command_s for f in frames if math.isfinite(f.receive_to_command_s)]
    sim_per_frame = [f.end_to_end_s for f in frames if f.end_to_end_s is not None]
    asked = np.array([(f.unclamped_v, f.unclamped_w) for f in frames], dtype=np.float64).reshape(-1, 2)
    if normalize is not None and len(asked):
        asked = np.asarray(normalize(asked[:, 0], asked[:, 1]), dtype=np.float64).reshape(-1, 2)
    mean_wall = float(np.mean(per_frame)) if per_frame else None
    mean_sim = float(np.mean(sim_per_frame)) if sim_per_frame else None
    rtf = round(real_time_factor, 2) if real_time_factor else None
    return {
        "mean_inference_time": float(np.mean(inference)) if inference else None,
        "frame_rate": frames_received / total_seconds if total_seconds else None,
        "mean_brain_iterations_real_time": mean_wall,
        "brain_iterations_frequency_real_time": 1 / mean_wall if mean_wall else None,
        "mean_brain_iterations_simulated_time": mean_sim,
        "brain_iterations_frequency_simulated_time": 1 / mean_sim if mean_sim else None,
        "target_brain_iterations_real_time": target_rate,
        "target_brain_iterations_simulated_time": target_rate / rtf if rtf else None,
        "real_time_factor": real_time_factor,
        "suddenness_distance": float(np.hypot(*np.diff(asked, axis=0).T).mean()) if len(asked) > 1 else None,
    }
