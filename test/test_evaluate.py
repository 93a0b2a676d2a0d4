"""`f1-brains evaluate`: a 2-brain x 1-circuit matrix, headless, 2 jobs, aggregated and resumable."""
import json

import pytest

from f1_brains.cli import main
from f1_brains.evaluate import RunSpec, evaluate


@pytest.mark.slow
def test_two_brain_matrix_with_two_jobs(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ROS_HOME", str(tmp_path / "ros"))
    out, md, js = tmp_path / "runs", tmp_path / "r.md", tmp_path / "r.json"
    rc = main(["evaluate", "--brains", "explicit", "pilotnet_onnx", "--circuits", "nurburgring", "--jobs", "2",
               "--out", str(out), "--markdown", str(md), "--json", str(js)])
    assert rc == 1   # the untrained network cannot drive: the matrix is complete, not all runs are
    results = {r["brain"]: r for r in json.loads(js.read_text())["results"]}
    explicit, network = results["explicit"], results["pilotnet_onnx"]
    assert explicit["completed"] and explicit["end_reason"] == "completed 1 lap(s)"
    assert 80 < explicit["lap_time_s"] < 100 and explicit["max_abs_offset_m"] < 1.0
    assert explicit["frames"]["skipped"] == 0 and explicit["backend"] == "explicit"
    assert not network["completed"] and network["end_reason"].startswith("off track")
    assert network["backend"] == "onnxruntime" and network["inference_p50_ms"] > 0
    table = md.read_text()
    assert "| explicit | nurburgring | lockstep | completed 1 lap(s) |" in table
    assert "| pilotnet_onnx | nurburgring | lockstep | off track" in table
    assert (out / "explicit/nurburgring/lockstep/r0/sim_summary.json").is_file()
    # Resumable: finished runs are read back, not run again.
    again = evaluate([RunSpec("explicit", "nurburgring")], out, progress=False)
    assert again[0] == explicit


@pytest.mark.slow
def test_a_run_that_cannot_start_is_recorded_with_its_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("ROS_HOME", str(tmp_path / "ros"))
    [result] = evaluate([RunSpec("explicit", "no_such_circuit")], tmp_path, progress=False)
    assert not result["completed"]
    assert result["end_reason"].startswith("run failed: no sim_summary.json")
    assert "unknown circuit 'no_such_circuit'; known: simple_circuit" in result["end_reason"]
    assert (tmp_path / "explicit/no_such_circuit/lockstep/r0/launch.log").read_text()
