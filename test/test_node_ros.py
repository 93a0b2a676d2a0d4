"""The brain node under rostest with a real master (test/ros/brain_node.test), and `make run`'s launch."""
import json
import os
import xml.etree.ElementTree as ET
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def ros_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"   # nodes run under this venv's python
    env["ROS_PACKAGE_PATH"] = ":".join(p for p in (str(REPO), env.get("ROS_PACKAGE_PATH")) if p)
    env["ROS_HOME"] = str(tmp_path / "ros")
    return env


@pytest.mark.slow
def test_brain_node_under_rostest(tmp_path):
    result = subprocess.run(["rostest", str(REPO / "test/ros/brain_node.test")],
                            env=ros_env(tmp_path), capture_output=True, text=True, timeout=400)
    output = result.stdout + result.stderr
    # rostest's own exit code and "OK" ignore failures inside the test node: read its JUnit report.
    reports = list((tmp_path / "ros/test_results/f1_brains").glob("rosunit-brain_node_checks.xml"))
    assert result.returncode == 0 and reports, output[-6000:]
    suite = ET.parse(reports[0]).getroot()
    counts = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors")}
    assert counts == {"tests": 6, "failures": 0, "errors": 0}, output[-6000:]


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
