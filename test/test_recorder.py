"""The lap recorder's files, the report over them, and reference lines from BehaviorMetrics bags."""
import json
import math
from pathlib import Path

import numpy as np
import pytest

from f1_brains.errors import ConfigError
from f1_brains.results.laps import FrameSample, OdomSample, lap_statistics
from f1_brains.results.report import load_run, report
from f1_brains.ros.recorder import SCHEMA_VERSION, LapRecorder, load_reference
from f1_brains.util.files import check_writable_dir
from f1_brains.worlds.track import Track

R, SPEED = 50.0, 10.0


@pytest.fixture(scope="module")
def ring() -> Track:
    a = np.linspace(0, 2 * math.pi, 36, endpoint=False)
    return Track("ring", np.column_stack([R * np.cos(a), R * np.sin(a)]))


def feed(recorder: LapRecorder, seconds: float) -> int:
    """Drive the ring on its line at SPEED, 20 Hz odometry and frames, writing the files after each lap as the node
    does; returns laps completed."""
    laps = 0
    for i in range(int(seconds * 20)):
        t, angle = i / 20, SPEED * i / 20 / R
        if recorder.add_odom(OdomSample(t, t, R * math.cos(angle), R * math.sin(angle), SPEED), i + 1, 0):
            laps += 1
            recorder.write()                     # as the node does after each lap
        recorder.add_frame(FrameSample(t, t, SPEED, SPEED / R, SPEED, SPEED / R, 0.001, 0.002, 0.0005))
    return laps


def test_files_are_written_after_each_lap_and_the_partial_lap_is_incomplete(ring, tmp_path):
    recorder = LapRecorder(ring, tmp_path, {"brain": "b", "backend": "x", "circuit": "ring", "mode": "lockstep"})
    assert feed(recorder, 35) == 1                           # one lap is 31.4 s
    written = json.loads((tmp_path / "run.json").read_text())
    assert written["laps_completed"] == 1 and written["schema_version"] == SCHEMA_VERSION
    assert len((tmp_path / "frames.csv.partial").read_text().splitlines()) == 701   # every frame so far
    recorder.write("stopped by Ctrl-C", received=700, skipped=0)   # what the node does at shutdown
    assert not (tmp_path / "frames.csv.partial").exists()    # frames.csv holds them all now
    data = json.loads((tmp_path / "run.json").read_text())
    first, partial = data["laps"]
    assert first["complete"] and first["lap_seconds"] == pytest.approx(2 * math.pi * R / SPEED, abs=2e-3)
    assert first["position_deviation_mae_m"] < 0.01 and first["frames_processed"] == pytest.approx(628, abs=1)
    assert not partial["complete"] and partial["invalid_reason"] == "run ended mid-lap: stopped by Ctrl-C"
    # BM's keys cover the whole recording (35 s, 349.5 m). Checkpoints every 2 m count when within 5 m, the first
    # for free: (349.5 + 5) / 2 + 1 of 157 = 113.5%. Its lap ends when the last checkpoint (2 m before the line)
    # is within 5 m: (314.2 - 7) / 10 = 30.7 s, in whole seconds 30.
    bm = data["bm"]
    assert bm["lap_seconds"] == 30 and bm["percentage_completed"] == pytest.approx(113.5, abs=0.7)
    assert bm["experiment_total_simulated_time"] == 34 and bm["gpu_inference"] is False
    assert data["bm"]["position_deviation_mae"] == pytest.approx(1.0, abs=0.05)   # 1000**0 on the line
    rows = (tmp_path / "frames.csv").read_text().splitlines()
    assert rows[0].startswith("lap,t_sim,t_wall,x,y") and len(rows) == 701
    assert not list(tmp_path.glob(".*.tmp"))                 # atomic writes leave no temporaries


def test_a_full_disk_costs_frames_csv_not_the_lap_statistics(ring, tmp_path, monkeypatch):
    """run.json is written first; frames.csv failing with ENOSPC leaves no temporary and no truncated file."""
    import errno
    recorder = LapRecorder(ring, tmp_path, {"brain": "b", "backend": "x", "circuit": "ring", "mode": "lockstep"})
    feed(recorder, 5)
    real_write = Path.write_text

    def full_disk(self, text, *args, **kwargs):
        if self.name == ".frames.csv.tmp":
            real_write(self, text[:100])             # the disk fills up part way
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real_write(self, text, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full_disk)
    with pytest.raises(OSError, match="No space left"):
        recorder.write("stopped", received=100, skipped=0)
    assert json.loads((tmp_path / "run.json").read_text())["end_reason"] == "stopped"
    assert not (tmp_path / "frames.csv").exists() and not list(tmp_path.glob(".*.tmp"))


def test_a_recorder_killed_outright_leaves_every_frame_it_had(ring, tmp_path):
    """SIGKILL mid-lap: run.json and frames.csv hold the completed lap, frames.csv.partial every frame."""
    import subprocess
    import sys
    code = f"""
import os, signal
from pathlib import Path
from test_recorder import LapRecorder, feed, ring
recorder = LapRecorder(ring.__wrapped__(), Path({str(tmp_path)!r}), {{"brain": "b", "circuit": "ring"}})
feed(recorder, 40)
os.kill(os.getpid(), signal.SIGKILL)
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parent, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == -9, result.stderr[-2000:]
    assert json.loads((tmp_path / "run.json").read_text())["laps_completed"] == 1
    assert len((tmp_path / "frames.csv").read_text().splitlines()) < 800
    rows = (tmp_path / "frames.csv.partial").read_text().splitlines()
    assert len(rows) == 801 and rows[-1].startswith("1,39.95,")


def test_a_full_disk_stops_the_journal_not_the_run(ring, tmp_path):
    """frames.csv.partial on /dev/full (every write: ENOSPC): journaling stops with the reason, the rows stay in
    memory and the final frames.csv has them all."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this machine")
    (tmp_path / "frames.csv.partial").symlink_to("/dev/full")
    recorder = LapRecorder(ring, tmp_path, {"brain": "b", "backend": "x", "circuit": "ring", "mode": "lockstep"})
    feed(recorder, 5)
    assert recorder.journal_error.endswith("frames.csv.partial: No space left on device")
    recorder.write("stopped", received=100, skipped=0)
    assert len((tmp_path / "frames.csv").read_text().splitlines()) == 101


def test_an_unwritable_output_directory_is_refused_before_the_run(tmp_path):
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(ConfigError, match="output directory .*a_file/run is not writable"):
        check_writable_dir(tmp_path / "a_file" / "run")
    assert check_writable_dir(tmp_path / "new" / "run").is_dir() and not list((tmp_path / "new" / "run").iterdir())


def test_report_table_and_plots(ring, tmp_path, monkeypatch):
    run_dir = tmp_path / "run_a"
    recorder = LapRecorder(ring, run_dir, {"brain": "explicit", "backend": "explicit", "circuit": "simple_circuit",
                                          "mode": "realtime"})
    feed(recorder, 35)
    recorder.write("completed 1 lap(s)")
    text, plots = report([str(run_dir / "run.json"), str(run_dir / "run.json")], tmp_path / "plots")
    assert "| explicit (explicit) simple_circuit realtime | 10.0" in text and "Yes (31.4 s)" in text
    assert {p.name for p in plots} == {"run_a_trajectory.png", "run_a_speed.png", "run_a_latency.png", "comparison.png"}
    assert all(p.stat().st_size > 10_000 for p in plots)


def test_report_refuses_unknown_schema_versions_and_missing_files(tmp_path):
    bad = tmp_path / "run.json"
    bad.write_text(json.dumps({"schema_version": 99, "laps": []}))
    with pytest.raises(ConfigError, match="schema version 99; this f1_brains reads version 1"):
        load_run(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_run(tmp_path / "nope.json")
    bad.write_text(json.dumps({"schema_version": 1, "metadata": None, "laps": [], "run": {}}))
    with pytest.raises(ConfigError, match="'metadata' is missing or not a dict"):
        load_run(bad)


def test_report_of_a_brain_that_never_answered(ring, tmp_path):
    """A header-only frames.csv (no frame processed): the table row, no per-run pictures, no traceback."""
    recorder = LapRecorder(ring, tmp_path / "run", {"brain": "nan_brain", "backend": "x", "circuit": "ring",
                                                    "mode": "lockstep"})
    for i in range(40):   # odometry arrives, the car never moves, no frame is ever processed
        recorder.add_odom(OdomSample(i / 20, i / 20, R, 0.0, 0.0), i + 1, 0)
    recorder.write("stuck", received=40, skipped=0)
    assert (tmp_path / "run" / "frames.csv").read_text().count("\n") == 1
    text, plots = report([str(tmp_path / "run" / "run.json")], tmp_path / "plots")
    assert "| nan_brain (x) ring lockstep |" in text and "No (stuck)" in text and plots == []


def test_reference_from_a_behaviormetrics_perfect_lap_bag(tmp_path):
    import rosbag
    import rospy
    from nav_msgs.msg import Odometry
    path = tmp_path / "lap-ring.bag"
    with rosbag.Bag(str(path), "w") as bag:
        for i in range(400):
            m = Odometry()
            a = 2 * math.pi * i / 400
            m.pose.pose.position.x, m.pose.pose.position.y = R * math.cos(a), R * math.sin(a)
            bag.write("/F1ROS/odom", m, rospy.Time.from_sec(1 + i * 0.05))
    reference, checkpoints = load_reference(bag=str(path))
    assert reference.length == pytest.approx(2 * math.pi * R, rel=3e-3) and len(checkpoints) == 400
    with pytest.raises(ConfigError, match="does not exist"):
        load_reference(bag=str(tmp_path / "missing.bag"))
    with pytest.raises(ConfigError, match="needs a circuit"):
        load_reference()


def test_bm_keys_cover_every_lap_of_the_recording(ring, tmp_path):
    """BM's deviation walk goes on over every lap (laps share their boundary sample: counted once)."""
    recorder = LapRecorder(ring, tmp_path, {"brain": "b"})
    assert feed(recorder, 66) == 2
    bm = recorder.run_data("done", received=1320)["bm"]
    assert bm["position_deviation_mae"] == pytest.approx(1.0, abs=0.02)     # on the line: 1000**0
    assert bm["position_deviation_total_err"] == pytest.approx(659.5 / 2, rel=0.03)   # a checkpoint per 2 m driven
    assert bm["percentage_completed"] > 200 and bm["frame_rate"] == pytest.approx(1320 / 65)
    # past laps' statistics are computed once (at the write after each lap) and equal a fresh computation now
    fresh = [lap_statistics(lap, ring, 20.0, recorder.bm_points) for lap in recorder.splitter.laps]
    same = lambda a, b: json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)   # noqa: E731 (NaN == NaN)
    assert same(recorder.run_data("done", received=1320)["laps"][:2], fresh[:2])
