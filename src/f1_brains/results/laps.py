"""Lap statistics: pure functions over odometry and per-frame samples, plus the lap splitter.

Definitions (docs/lap_statistics.md has the full list and how they relate to BehaviorMetrics):
- a lap is one reference-line length of progress along the reference line, in whichever direction the car
  drives, from wherever it starts; the lap time interpolates the crossing between two odometry samples;
- position deviation is the exact distance from the car to the reference polyline (metres): MAE, RMSE, max;
- ``position_deviation_mae`` (no ``_m``) is BehaviorMetrics' number over the lap (bm_metrics.spline_deviation):
  for every reference checkpoint the distance to the trajectory, then the mean of 1000**d (unitless, exponential);
- suddenness distance is the mean |(v, w)_t - (v, w)_t-1| of the raw network outputs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..errors import ConfigError
from ..util.timing import summarize
from ..worlds.track import Track
from .bm_metrics import path_length, spline_deviation

MAX_ODOM_GAP = 1.0      # s of sim time without odometry before the lap is invalid
MAX_JUMP_SPEED = 60.0   # m/s: faster apparent motion between two odometry samples is a teleport/reset


@dataclass(frozen=True)
class OdomSample:
    t: float        # sim time (s)
    wall: float     # wall time (s, monotonic)
    x: float
    y: float
    speed: float


@dataclass(frozen=True)
class FrameSample:
    t: float                  # sim time at which the command was published
    wall: float
    v: float                  # command sent (clamped)
    w: float
    unclamped_v: float        # what the brain asked for, before the limits
    unclamped_w: float
    inference_s: float
    end_to_end_s: float | None    # image stamp -> command, ROS time (sim time: quantized to its clock)
    node_overhead_s: float
    receive_to_command_s: float = float("nan")   # image arrived -> command published, wall clock


@dataclass
class Lap:
    index: int
    odom: list[OdomSample] = field(default_factory=list)
    frames: list[FrameSample] = field(default_factory=list)
    start_t: float | None = None     # interpolated crossing time of the lap start
    end_t: float | None = None
    complete: bool = False
    invalid_reason: str | None = None
    received: int = 0
    skipped: int = 0


def reference_from_points(name: str, points: np.ndarray) -> Track:
    """A reference line from raw points (e.g. a perfect-lap bag); clear errors for degenerate input."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(points) < 2:
        raise ConfigError(f"reference line {name!r} has {len(points)} point(s); a lap needs a line")
    step = max(1, len(points) // 400)   # the track resamples finely; a few hundred control points suffice
    return Track(name, points[::step], width=0.0)


class LapSplitter:
    """Feeds odometry; cuts laps at each reference-length of progress; flags gaps and jumps."""

    def __init__(self, reference: Track) -> None:
        self.reference = reference
        self.laps: list[Lap] = [Lap(0)]
        self._last: OdomSample | None = None
        self._last_s = 0.0
        self._progress = 0.0      # since the current lap's start, signed
        self._direction = 0       # +1 along the line's order, -1 against it, 0 not yet known
        self.last_offset = float("nan")   # signed distance of the latest sample to the line (m)

    @property
    def current(self) -> Lap:
        return self.laps[-1]

    def add_odom(self, sample: OdomSample) -> Lap | None:
        """Returns the lap this sample completed, if any."""
        lap = self.current
        projection = self.reference.project(sample.x, sample.y)
        s, self.last_offset = projection.s, projection.offset
        if self._last is None:
            lap.start_t, self._last_s = sample.t, s
            lap.odom.append(sample)
            self._last = sample
            return None
        dt = sample.t - self._last.t
        jump = math.hypot(sample.x - self._last.x, sample.y - self._last.y)
        if dt > MAX_ODOM_GAP:
            self._restart(sample, s, f"odometry missing for {dt:.1f} s")
            return None
        if jump > max(MAX_JUMP_SPEED * max(dt, 0.05), 3.0) or dt < 0:
            self._restart(sample, s, f"odometry jumped {jump:.1f} m in {dt:.2f} s (reset or teleport)")
            return None
        length = self.reference.length
        ds = self.reference.step_along(self._last_s, s)
        self._last_s = s
        if self._direction == 0 and abs(self._progress + ds) > 5.0:
            self._direction = 1 if self._progress + ds > 0 else -1
        before, self._progress = self._progress, self._progress + ds
        lap.odom.append(sample)
        self._last = sample
        done = self._direction != 0 and self._direction * self._progress >= length
        if not done:
            return None
        # interpolate the crossing time between the last two samples
        frac = (length - self._direction * before) / max(self._direction * (self._progress - before), 1e-9)
        crossing = self._last_before(lap).t + frac * dt
        lap.end_t, lap.complete = crossing, True
        self._progress -= self._direction * length
        nxt = Lap(lap.index + 1, odom=[sample], start_t=crossing)
        self.laps.append(nxt)
        return lap

    @staticmethod
    def _last_before(lap: Lap) -> OdomSample:
        return lap.odom[-2]

    def _restart(self, sample: OdomSample, s: float, reason: str) -> None:
        lap = self.current
        lap.invalid_reason, lap.end_t = reason, self._last.t if self._last else sample.t
        self.laps.append(Lap(lap.index + 1, odom=[sample], start_t=sample.t))
        self._last, self._last_s, self._progress, self._direction = sample, s, 0.0, 0

    def add_frame(self, frame: FrameSample) -> None:
        self.current.frames.append(frame)

    def progress_fraction(self) -> float:
        return abs(self._progress) / self.reference.length


# ---- statistics of one lap (pure) ----

def deviations(reference: Track, odom: Sequence[OdomSample]) -> np.ndarray:
    return np.array([abs(reference.project(o.x, o.y).offset) for o in odom])


def distance_driven(odom: Sequence[OdomSample]) -> float:
    return path_length(np.array([(o.x, o.y) for o in odom]))


def suddenness(frames: Sequence[FrameSample]) -> float:
    if len(frames) < 2:
        return float("nan")
    asked = np.array([(f.unclamped_v, f.unclamped_w) for f in frames])
    return float(np.hypot(*np.diff(asked, axis=0).T).mean())


def extent(lap: Lap) -> tuple[float, float, float]:
    """(sim seconds, wall seconds, metres driven) of one lap; NaN times where it has too few samples."""
    odom = lap.odom
    start = lap.start_t if lap.start_t is not None else (odom[0].t if odom else float("nan"))
    end = lap.end_t if lap.end_t is not None else (odom[-1].t if odom else float("nan"))
    sim_time = end - start if odom else float("nan")
    wall = (odom[-1].wall - odom[0].wall) if len(odom) > 1 else float("nan")
    return sim_time, wall, distance_driven(odom)


def run_statistics(laps: Sequence[Lap], reference: Track, target_rate: float, received: int = 0,
                   skipped: int = 0) -> dict:
    """The whole run: every lap's samples together, with times and distance summed lap by lap, so that a reset
    between laps (sim time back to 0, the car back at the start) adds neither time nor distance."""
    whole = Lap(-1, odom=[o for lap in laps for o in lap.odom], frames=[f for lap in laps for f in lap.frames],
                received=received, skipped=skipped)
    parts = [extent(lap) for lap in laps if len(lap.odom) > 1]
    summed = tuple(float(np.sum([part[i] for part in parts if math.isfinite(part[i])])) if parts else float("nan")
                   for i in range(3))
    return lap_statistics(whole, reference, target_rate, span=summed)


def lap_statistics(lap: Lap, reference: Track, target_rate: float,
                   bm_reference_points: np.ndarray | None = None,
                   span: tuple[float, float, float] | None = None) -> dict:
    """Every number of one lap; a partial or invalid lap gets the same numbers over what was driven. ``span``:
    (sim s, wall s, metres) when they are not the lap's own extent (run_statistics)."""
    odom, frames = lap.odom, lap.frames
    sim_time, wall, distance = span or extent(lap)
    dev = deviations(reference, odom) if odom else np.array([])
    stats = {
        "lap": lap.index, "complete": lap.complete, "invalid_reason": lap.invalid_reason,
        "lap_seconds": sim_time if lap.complete else None, "sim_time_s": sim_time, "wall_time_s": wall,
        "completed_distance": distance, "average_speed": distance / sim_time if sim_time and sim_time > 0 else None,
        "percentage_completed": 100.0 if lap.complete else 100.0 * min(distance / reference.length, 1.0),
        "position_deviation_mae_m": float(dev.mean()) if dev.size else None,
        "position_deviation_rmse_m": float(np.sqrt((dev ** 2).mean())) if dev.size else None,
        "position_deviation_max_m": float(dev.max()) if dev.size else None,
        "frames_processed": len(frames), "frames_received": lap.received, "frames_skipped": lap.skipped,
        "brain_iterations_frequency_real_time": len(frames) / wall if wall and wall > 0 else None,
        "brain_iterations_frequency_simulated_time": len(frames) / sim_time if sim_time and sim_time > 0 else None,
        "target_brain_iterations_real_time": target_rate,
        "target_brain_iterations_simulated_time": target_rate,
        "real_time_factor": sim_time / wall if wall and wall > 0 else None,
        "inference_time": summarize([f.inference_s for f in frames]),
        "mean_inference_time": float(np.mean([f.inference_s for f in frames])) if frames else None,
        "end_to_end_latency": summarize([f.end_to_end_s for f in frames if f.end_to_end_s is not None]),
        "node_overhead": summarize([f.node_overhead_s for f in frames]),
        "receive_to_command": summarize([f.receive_to_command_s for f in frames if math.isfinite(f.receive_to_command_s)]),
        "suddenness_distance": suddenness(frames),
    }
    if bm_reference_points is not None and lap.complete:
        stats["position_deviation_mae"], stats["position_deviation_total_err"] = \
            spline_deviation(np.array([(o.x, o.y) for o in odom]), bm_reference_points)
    return stats
