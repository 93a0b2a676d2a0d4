"""`f1-brains evaluate`: a 2-brain x 1-circuit matrix, headless, 2 jobs, aggregated and resumable."""
import json

import pytest

from f1_brains.cli import main
from f1_brains.evaluate import RunSpec, evaluate

from conftest import REPO


NAN_BRAIN = str(REPO / "test/ros/nan_brain.yaml")   # a network that answers NaN: the car never moves


@pytest.mark.slow
def test_two_brain_matrix_with_two_jobs(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ROS_HOME", str(tmp_path / "ros"))
    out, md, js = tmp_path / "runs", tmp_path / "r.md", tmp_path / "r.json"
    rc = main(["evaluate", "--brains", "pilotnet_onnx", NAN_BRAIN, "--circuits", "nurburgring", "--jobs", "2",
               "--out", str(out), "--markdown", str(md), "--json", str(js)])
    assert rc == 1   # the matrix is complete, but not every run completed a lap
    results = {r["brain"]: r for r in json.loads(js.read_text())["results"]}
    network, broken = results["pilotnet_onnx"], results[NAN_BRAIN]
    assert network["completed"] and network["end_reason"] == "completed 1 lap(s)"
    assert 80 < network["lap_time_s"] < 100 and network["max_abs_offset_m"] < 1.0
    assert network["frames"]["skipped"] == 0 and network["backend"] == "onnxruntime" and network["inference_p50_ms"] > 0
    assert not broken["completed"] and broken["end_reason"].startswith("stuck")
    assert broken["frames"]["faults"] > 0 and broken["frames"]["processed"] == 0   # every frame a safe stop
    table = md.read_text()
    assert "| pilotnet_onnx | nurburgring | lockstep | completed 1 lap(s) |" in table
    assert "nan_brain.yaml | nurburgring | lockstep | stuck" in table
    assert (out / "nan_brain/nurburgring/lockstep/r0/sim_summary.json").is_file()   # inside the run directory
    # Resumable: finished runs are read back, not run again.
    again = evaluate([RunSpec("pilotnet_onnx", "nurburgring")], out, progress=False)
    assert again[0] == network


@pytest.mark.slow
def test_a_run_that_cannot_start_is_recorded_with_its_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("ROS_HOME", str(tmp_path / "ros"))
    [result] = evaluate([RunSpec("explicit", "no_such_circuit")], tmp_path, progress=False)
    assert not result["completed"]
    assert result["end_reason"].startswith("run failed: no sim_summary.json")
    assert "unknown circuit 'no_such_circuit'; known: simple_circuit" in result["end_reason"]
    assert (tmp_path / "explicit/no_such_circuit/lockstep/r0/launch.log").read_text()
