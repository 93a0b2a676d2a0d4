"""The lap recorder: live odometry and per-frame samples in, run.json and frames.csv out.

Both files are rewritten atomically after every completed lap and at shutdown, so Ctrl-C or a crash
mid-lap keeps every completed lap; the lap in progress is written as incomplete. Every frame's row also goes to
frames.csv.partial as it comes (line by line, to the kernel), so a process killed outright (SIGKILL) leaves every
frame it had recorded; a shutdown that writes frames.csv removes it. run.json follows SCHEMA_VERSION
(docs/lap_statistics.md); its "bm" section uses BehaviorMetrics' key names.
"""
from __future__ import annotations

import csv
import io
import platform
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..core.backends.base import is_gpu
from ..results.bm_metrics import pilot_metrics, recording_metrics
from ..results.laps import FrameSample, Lap, LapSplitter, OdomSample, lap_statistics, run_statistics
from ..results.run_file import CSV_COLUMNS, SCHEMA_VERSION
from ..util.files import write_json_atomic, write_text_atomic
from ..util.host import cpu, versions
from ..worlds.track import Track


JOURNAL = "frames.csv.partial"


class LapRecorder:
    def __init__(self, reference: Track, out_dir: str | Path, metadata: dict[str, Any], target_rate: float = 20.0,
                 bm_reference_points: np.ndarray | None = None,
                 output_normalizer: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None) -> None:
        """``output_normalizer``: (v, w) -> the network's outputs (the card's), for BM's suddenness; None without
        a network."""
        self.reference, self.out_dir, self.metadata = reference, Path(out_dir), metadata
        self.target_rate, self.output_normalizer = target_rate, output_normalizer
        self.bm_points = bm_reference_points if bm_reference_points is not None else reference.points[::4]
        self.splitter = LapSplitter(reference)
        self.rows: list[tuple] = []
        self._past_laps: dict[int, dict[str, Any]] = {}   # statistics of laps before the current one: final
        self._last_odom: OdomSample | None = None
        self._counts = (0, 0)            # (received, skipped) at the start of the current lap
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._wall0 = time.monotonic()
        self.journal_path = self.out_dir / JOURNAL
        self._journal: Any = None          # the open frames.csv.partial (opened with the first frame)
        self._journal_closed = False
        self.journal_error: str | None = None   # why journaling stopped early (e.g. a full disk)

    def add_odom(self, sample: OdomSample, received: int, skipped: int) -> bool:
        """True when this sample completed a lap: the caller then writes the files (``write``), off its hot path."""
        with self._lock:
            self._last_odom = sample
            before = self.splitter.current
            done = self.splitter.add_odom(sample)
            if self.splitter.current is not before:   # a lap ended (complete or invalid)
                before.received, before.skipped = received - self._counts[0], skipped - self._counts[1]
                self._counts = (received, skipped)
        return done is not None

    def add_frame(self, frame: FrameSample) -> None:
        with self._lock:
            self.splitter.add_frame(frame)
            o = self._last_odom
            offset = self.splitter.last_offset   # projected once, when the odometry arrived
            row = (self.splitter.current.index, frame.t, frame.wall, *(o and (o.x, o.y, o.speed) or (None,) * 3),
                   offset, frame.v, frame.w, frame.unclamped_v, frame.unclamped_w, frame.inference_s * 1e3,
                   None if frame.end_to_end_s is None else frame.end_to_end_s * 1e3,
                   frame.node_overhead_s * 1e3, frame.receive_to_command_s * 1e3)
            self.rows.append(row)
            self._journal_row(row)

    def _journal_row(self, row: tuple) -> None:
        """Append one row to frames.csv.partial; on an error (a full disk) stop journaling and say why once."""
        if self._journal_closed:
            return
        try:
            if self._journal is None:
                self._journal = open(self.journal_path, "w", newline="", buffering=1)   # line-buffered
                self._journal_writer = csv.writer(self._journal, lineterminator="\n")
                self._journal_writer.writerow(CSV_COLUMNS)
            self._journal_writer.writerow(row)
        except OSError as e:
            self.journal_error = f"{self.journal_path}: {e.strerror or e}"
            self._close_journal()

    def _close_journal(self) -> None:
        self._journal_closed = True
        if self._journal is not None:
            try:
                self._journal.close()
            except OSError:
                pass
            self._journal = None

    def run_data(self, end_reason: str | None = None, received: int = 0, skipped: int = 0) -> dict[str, Any]:
        with self._lock:
            laps = list(self.splitter.laps)
            current = laps[-1]
            current.received, current.skipped = received - self._counts[0], skipped - self._counts[1]
            if current.invalid_reason is None and not current.complete and end_reason:
                current.invalid_reason = f"run ended mid-lap: {end_reason}"
            per_lap = [self._lap_statistics(i, lap, current=i == len(laps) - 1)
                       for i, lap in enumerate(laps) if len(lap.odom) > 1]   # a lone sample after the finish: no lap
            run = run_statistics(laps, self.reference, self.target_rate, received, skipped)
            odom = [o for lap in laps for o in lap.odom]
            odom = [o for i, o in enumerate(odom) if i == 0 or o is not odom[i - 1]]   # laps share their boundary
            frames = [f for lap in laps for f in lap.frames]
        complete = [s for s in per_lap if s["complete"]]
        return {"schema_version": SCHEMA_VERSION, "metadata": self.metadata, "end_reason": end_reason,
                "laps_completed": len(complete), "laps": per_lap, "run": run,
                "bm": self.bm_section(odom, frames, run, received)}

    def _lap_statistics(self, index: int, lap: Lap, current: bool) -> dict[str, Any]:
        """A lap's statistics; a past lap no longer changes, so its (spline deviation's) cost is paid once."""
        if not current and index in self._past_laps:
            return self._past_laps[index]
        stats = lap_statistics(lap, self.reference, self.target_rate, self.bm_points)
        if not current:
            self._past_laps[index] = stats
        return stats

    def bm_section(self, odom: list[OdomSample], frames: list[FrameSample], run: dict[str, Any],
                   received: int) -> dict[str, Any]:
        """BehaviorMetrics' stats keys as BM computes them from a recording of the whole run
        (results/bm_metrics.py): odometry from first to last sample; a reset adds no time."""
        if not odom:
            return {}
        t = np.array([o.t for o in odom])
        clock = t[0] + np.concatenate([[0.0], np.cumsum(np.clip(np.diff(t), 0.0, None))])
        section = recording_metrics(np.array([(o.x, o.y) for o in odom]), clock, clock[0], clock[-1],
                                    self.bm_points)
        section.update(pilot_metrics(frames, received, section["experiment_total_simulated_time"],
                                     run.get("real_time_factor"), self.target_rate, self.output_normalizer))
        section["experiment_total_real_time"] = run["wall_time_s"]
        section["gpu_inference"] = is_gpu(str(self.metadata.get("device", "cpu")))
        return section

    def write(self, end_reason: str | None = None, received: int = 0, skipped: int = 0) -> Path:
        """run.json first (the statistics), then frames.csv, each atomically; raises OSError (e.g. a full disk)
        after leaving no temporary file behind."""
        with self._write_lock:   # one writer at a time: a lap's write may still run when the run's last one starts
            return self._write(end_reason, received, skipped)

    def _write(self, end_reason: str | None, received: int, skipped: int) -> Path:
        data = self.run_data(end_reason, received, skipped)
        path = write_json_atomic(self.out_dir / "run.json", data)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        with self._lock:
            writer.writerows(self.rows)
        write_text_atomic(self.out_dir / "frames.csv", buffer.getvalue())
        if end_reason is not None:   # the run's last write: frames.csv now holds every row
            with self._lock:
                self._close_journal()
            self.journal_path.unlink(missing_ok=True)
        return path


def run_metadata(brain_about: dict[str, Any], circuit: str, mode: str, seed: int) -> dict[str, Any]:
    return {"brain": brain_about.get("brain"), "backend": brain_about.get("backend"),
            "device": brain_about.get("device"), "artifact": brain_about.get("artifact"),
            "model_card": brain_about.get("card"), "circuit": circuit, "mode": mode, "seed": seed,
            "host": platform.node(), "cpu": cpu(), "python": platform.python_version(), "versions": versions(),
            "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def load_reference(circuit: str = "", bag: str = "") -> tuple[Track, np.ndarray]:
    """The reference line and BM's checkpoints: a BehaviorMetrics perfect-lap bag (its /F1ROS/odom
    samples are the checkpoints) or a circuit (named, or a points file; checkpoints every 2 m)."""
    from ..errors import ConfigError
    from ..results.laps import reference_from_points
    if bag:
        import rosbag
        if not Path(bag).is_file():
            raise ConfigError(f"perfect-lap bag {bag} does not exist")
        try:
            with rosbag.Bag(bag) as b:
                points = np.array([(m.pose.pose.position.x, m.pose.pose.position.y)
                                   for _, m, _ in b.read_messages(topics=["/F1ROS/odom"])]).reshape(-1, 2)
        except (rosbag.ROSBagException, UnicodeDecodeError, ValueError, EOFError, OSError) as e:
            raise ConfigError(f"perfect-lap bag {bag} is not a readable ROS bag ({type(e).__name__}: {e})") from None
        if len(points) == 0:
            raise ConfigError(f"perfect-lap bag {bag} has no /F1ROS/odom messages to use as the reference line")
        return reference_from_points(Path(bag).stem, points), points
    if not circuit:
        raise ConfigError("a reference line needs a circuit (name or points file) or a perfect-lap bag")
    from ..worlds import circuits
    track = circuits.load(circuit)
    return track, track.points[::4]
