"""ROS end-to-end: the nodes under rostest with a real master, and the launch files users run."""
import json
import subprocess

import pytest

from conftest import ros_env


@pytest.mark.slow
@pytest.mark.parametrize("name,checks", [
    ("brain_node", 6),   # brain node: rate, bad encoding, wrong size, silence, NaN output, shutdown
    ("sim_lap", 1),      # the explicit brain completes a lockstep lap of simple_circuit on the simulator
    ("sim_inputs", 4),   # simulator: commands, NaN/huge commands, reset/pause, silent brain in lockstep
])
def test_rostest(rostest, name, checks):
    counts, output = rostest(name)
    assert counts == {"tests": checks, "failures": 0, "errors": 0}, output


@pytest.mark.slow
def test_camera_replay_launch_prints_and_writes_the_summary(tmp_path):
    summary_file = tmp_path / "summary.json"
    result = subprocess.run(["roslaunch", "f1_brains", "camera_replay.launch", "brain:=pilotnet_tflite",
                             "frames:=40", f"summary_file:={summary_file}", "-p", "11411"],
                            env=ros_env(tmp_path), capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert "brain pilotnet_tflite: backend tflite on cpu" in output, output[-4000:]
    summary = json.loads(summary_file.read_text())
    frames = summary["frames"]
    assert frames["processed"] >= 38 and frames["faults"] == 0, frames
    assert summary["timings"]["inference"]["n"] == frames["processed"]
    assert summary["brain"]["backend"] == "tflite"


@pytest.mark.slow
def test_headless_circuit_launch_ends_by_itself_and_writes_run_files(tmp_path):
    out = tmp_path / "run"
    result = subprocess.run(["roslaunch", "f1_brains", "nurburgring.launch", "brain:=explicit", f"out:={out}",
                             "-p", "11412"], env=ros_env(tmp_path), capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    sim = json.loads((out / "sim_summary.json").read_text())
    brain = json.loads((out / "brain_summary.json").read_text())
    assert sim["end_reason"] == "completed 1 lap(s)" and sim["mode"] == "lockstep", output[-4000:]
    assert 80 < sim["laps"][0]["lap_time"] < 100
    assert brain["frames"]["processed"] == sim["frames"] and brain["frames"]["faults"] == 0
    assert "| 1 |" in output    # the lap table was printed
