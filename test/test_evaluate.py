"""`f1-brains evaluate`: a 2-brain x 1-circuit matrix, headless, 2 jobs, aggregated and resumable; the explicit brain
laps, a network that answers NaN never moves."""
import csv
import json
import os
import time

import pytest
from conftest import REPO

from f1_brains.cli import main
from f1_brains.evaluate.runs import RunSpec, evaluate
from f1_brains.results import aggregate

NAN_BRAIN = str(REPO / "test/ros/nan_brain.yaml")   # a network that answers NaN: the car never moves


@pytest.mark.slow
def test_two_brain_matrix_with_two_jobs(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ROS_HOME", str(tmp_path / "ros"))
    out, md, js = tmp_path / "runs", tmp_path / "r.md", tmp_path / "r.json"
    rc = main(["evaluate", "--brains", "explicit", NAN_BRAIN, "--circuits", "nurburgring", "--jobs", "2",
               "--out", str(out), "--markdown", str(md), "--json", str(js)])
    assert rc == 1   # the matrix is complete, but not every run completed a lap
    results = {r["brain"]: r for r in json.loads(js.read_text())["results"]}
    network, broken = results["explicit"], results[NAN_BRAIN]
    assert network["completed"] and network["end_reason"] == "completed 1 lap(s)"
    assert network["frames"]["skipped"] == 0 and network["backend"] == "explicit" and network["inference_p50_ms"] > 0
    assert not broken["completed"] and broken["end_reason"].startswith("stuck")
    assert broken["frames"]["faults"] > 0 and broken["frames"]["processed"] == 0   # every frame a safe stop
    # Each run carries the seeds' columns of its run.json; the matrix is aggregated into OUT/results.*.
    seeds = network["recorded"]
    assert seeds["completed"] and 8 < seeds["average_speed"] < 11 and seeds["deviation_mae_m"] < 0.1
    assert 50 < seeds["lap_seconds"] < 70 and seeds["deviation_max_m"] < 0.5 and "lap_time_s" not in network
    assert seeds["frequency_rt"] > 20 and seeds["inference_p99_ms"] >= seeds["inference_p50_ms"] > 0
    text = (out / "results.md").read_text()
    ranking = [line for line in text.splitlines() if line.startswith(("| 1 |", "| 2 |"))]
    speed = f"{seeds['average_speed']:.2f}"
    assert ranking[0].startswith(f"| 1 | explicit (explicit) | 1/1 | {speed}")
    assert ranking[1].startswith("| 2 | nan_brain (torchscript) | 0/1 |")
    assert f"| explicit (explicit) nurburgring lockstep | {speed}" in text
    assert f"| 0 | 1/1 ({seeds['lap_seconds']:.1f} s) |" in text
    assert "| nan_brain (torchscript) nurburgring lockstep |" in text and "| 0/1 (stuck" in text
    assert "| explicit | nurburgring | lockstep | 0 | completed 1 lap(s) |" in text   # the per-run table
    assert md.read_text() == text.replace("](plots/", "](r_plots/")   # --markdown: the same, plots copied
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == aggregate.CSV_COLUMNS and [r["brain"] for r in rows] == ["explicit", "nan_brain"]
    assert rows[0]["completed"] == "True" and float(rows[0]["deviation_mae_m"]) < 0.1 and rows[1]["completed"] == "False"
    assert json.loads((out / "results.json").read_text())["ranking"][0]["brain"] == "explicit"
    for name in ("heatmap_lockstep.png", "bars_lockstep.png"):
        for picture in (out / "plots" / name, tmp_path / "r_plots" / name):
            assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and picture.stat().st_size > 10_000
    assert (out / "nan_brain/nurburgring/lockstep/r0/sim_summary.json").is_file()   # inside the run directory
    # Resumable: finished runs are read back, not run again; an older result.json gets run.json's columns.
    again = evaluate([RunSpec("explicit", "nurburgring")], out, progress=False)
    assert again[0] == network
    done = out / "explicit/nurburgring/lockstep/r0/result.json"
    done.write_text(json.dumps({k: v for k, v in network.items() if k != "recorded"}))
    assert evaluate([RunSpec("explicit", "nurburgring")], out, progress=False)[0] == network
    # Another session, without OUT: the --json file stands for both runs, nothing runs, the same page comes out.
    elsewhere, md2 = tmp_path / "elsewhere", tmp_path / "r2.md"
    capsys.readouterr()
    assert main(["evaluate", "--brains", "explicit", NAN_BRAIN, "--circuits", "nurburgring", "--out", str(elsewhere),
                 "--reuse", str(js), "--markdown", str(md2)]) == 1
    assert f"--reuse {js}: 2 result(s) stand for their runs" in capsys.readouterr().err
    assert not list(elsewhere.rglob("sim_summary.json"))   # no run
    assert strip_command(md2.read_text()) == strip_command(md.read_text()).replace("r_plots/", "r2_plots/")


def strip_command(page: str) -> str:
    return "\n".join(line for line in page.splitlines() if not line.startswith("Made by"))


@pytest.mark.slow
def test_a_run_that_cannot_start_is_recorded_with_its_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("ROS_HOME", str(tmp_path / "ros"))
    [result] = evaluate([RunSpec("explicit", "no_such_circuit")], tmp_path, progress=False)
    assert not result["completed"]
    assert result["end_reason"].startswith("run failed: no sim_summary.json")
    assert "unknown circuit 'no_such_circuit'; known: simple_circuit" in result["end_reason"]
    assert (tmp_path / "explicit/no_such_circuit/lockstep/r0/launch.log").read_text()


def result(brain: str, repeat: int, completed: bool, deviation: float | None = None, speed: float = 9.0,
           p99: float = 2.0, skipped: int = 0) -> dict:
    """A synthetic evaluate result; deviation None: an older result.json without run.json's columns."""
    seeds = None if deviation is None else {
        "average_speed": speed, "deviation_mae_m": deviation, "bm_deviation_mae": 1.2, "frequency_rt": 100.0 + repeat,
        "inference_mean_ms": 1.0, "inference_p50_ms": 0.9, "inference_p99_ms": p99, "latency_p99_ms": 5.0,
        "real_time_factor": 5.0, "frames_skipped": skipped, "lap_seconds": 80.0 if completed else None}
    return {"brain": brain, "circuit": "/tmp/ring.txt", "mode": "lockstep", "laps": 1, "repeat": repeat,
            "timeout": 600.0, "completed": completed, "end_reason": "completed 1 lap(s)" if completed else "stuck",
            "backend": "onnxruntime", "frames": {"processed": 10, "skipped": skipped}, "recorded": seeds}


def test_aggregation_over_repeats_ranking_and_files(tmp_path):
    results = [result("half", 0, True, 0.02, p99=2.0, skipped=1), result("half", 1, False, 0.5, p99=10.0, skipped=2),
               result("slow", 0, True, 0.01, speed=8.0), result("slow", 1, True, 0.03, speed=8.0),
               result("fast", 0, True, 0.05, speed=9.5), result("fast", 1, True, 0.03, speed=9.5),
               result("never", 0, False, 0.0, speed=0.0), result("brains/old.yaml", 0, False)]
    groups = {g["brain"]: g for g in aggregate.groups(results)}
    half = groups["half"]
    assert aggregate.completion(half) == "1/2 (80.0 s; stuck)"
    # Medians over the completed repeat only; frames skipped summed over both.
    assert half["deviation_mae_m"] == 0.02 and half["inference_p99_ms"] == 2.0 and half["frames_skipped"] == 3
    assert groups["fast"]["deviation_mae_m"] == pytest.approx(0.04) and groups["fast"]["frequency_rt"] == 100.5
    assert groups["old"]["deviation_mae_m"] is None and aggregate.completion(groups["old"]) == "0/1 (stuck)"
    # Completion first; then lower deviation (slow 0.02 beats fast 0.04); no numbers last.
    assert [(r["rank"], r["brain"]) for r in aggregate.ranking(list(groups.values()))] == \
        [(1, "slow"), (2, "fast"), (3, "half"), (4, "never"), (5, "old")]

    text, data = aggregate.write(results, tmp_path, "f1-brains evaluate test")
    assert "| 3 | half (onnxruntime) | 1/2 | 9.00 | 0.020 | 2.000 | 100.0 |" in text
    assert "| half (onnxruntime) ring lockstep | 9.00 | 0.020 | 1.20 | 100.0 | 0.900 / 2.000 | 5.000 | 5.00 | 3 | " \
           "1/2 (80.0 s; stuck) |" in text
    assert "| old (onnxruntime) ring lockstep | - | - | - | - | - / - | - | - | 0 | 0/1 (stuck) |" in text
    # A car that never completed a lap (never moved: deviation 0) ranks without speed or deviation.
    assert "| 4 | never (onnxruntime) | 0/1 | - | - | 2.000 | 100.0 |" in text
    assert (tmp_path / "results.md").read_text() == text and data["ranking"][0]["brain"] == "slow"
    with open(tmp_path / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8 and tuple(rows[0]) == aggregate.CSV_COLUMNS
    assert rows[1]["deviation_mae_m"] == "0.5" and rows[7]["brain"] == "old" and rows[7]["deviation_mae_m"] == ""
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["bars_lockstep.png", "heatmap_lockstep.png"]


def test_varied_repeats_see_other_worlds_and_keep_their_own_paths(tmp_path, monkeypatch):
    """--vary-appearance: repeat N is drawn with appearance seed N, so lockstep repeats differ; its runs live under
    v<N>/, apart from the standard look's r<N>/."""
    monkeypatch.setenv("ROS_HOME", str(tmp_path / "ros"))
    specs = [RunSpec("explicit", "simple_circuit", repeat=r, varied=True) for r in (1, 2)]
    assert [s.key for s in specs] == ["explicit/simple_circuit/lockstep/v1", "explicit/simple_circuit/lockstep/v2"]
    assert RunSpec("explicit", "simple_circuit", repeat=1).appearance_seed == -1
    results = evaluate(specs, tmp_path, progress=False)
    assert all(r["completed"] for r in results)
    from f1_brains.evaluate.fingerprint import brain_fingerprint
    assert {r["brain_fingerprint"] for r in results} == {brain_fingerprint("explicit")}   # what made them
    runs = [json.loads((tmp_path / s.key / "run.json").read_text()) for s in specs]
    assert [r["metadata"]["seed"] for r in runs] == [1, 2]
    assert runs[0]["laps"][0]["position_deviation_mae_m"] != runs[1]["laps"][0]["position_deviation_mae_m"]


def test_what_a_cached_result_is():
    """Finished runs are reused (completed or not); failed and interrupted ones run again; --retry-failed also
    reruns finished runs that did not complete; results from before statuses count by their summaries."""
    from f1_brains.evaluate.runs import reusable
    finished = {"status": "finished", "completed": True}
    crashed = {"status": "finished", "completed": False}
    assert reusable(finished) and reusable(crashed) and reusable(finished, retry_failed=True)
    assert not reusable(crashed, retry_failed=True)
    assert not reusable({"status": "failed", "completed": False})
    assert not reusable({"status": "interrupted", "completed": False})
    assert reusable({"completed": True, "frames": {}}) and not reusable({"completed": False})


def test_a_cached_result_stands_only_for_the_brain_that_made_it(tmp_path):
    """A rebuilt model (an IR's .bin too), another card or an edited spec runs again; a new description does not;
    a result from before fingerprints is kept while no file of its brain changed after its run ended."""
    from f1_brains.errors import ConfigError
    from f1_brains.evaluate.fingerprint import brain_fingerprint, brain_version
    from f1_brains.evaluate.runs import cached, outdated
    model, weights, card = tmp_path / "net.xml", tmp_path / "net.bin", tmp_path / "net.xml.card.yaml"
    for path in (model, weights, card):
        path.write_text("v1")
    brain = tmp_path / "brain.yaml"
    brain.write_text(f"model: {model}\nthreads: 1\ndescription: first\n")
    spec, out = RunSpec(str(brain), "simple_circuit"), tmp_path / "runs"
    run_dir = out / spec.key
    run_dir.mkdir(parents=True)
    made_with = brain_fingerprint(str(brain))
    (run_dir / "result.json").write_text(json.dumps({"status": "finished", "completed": True,
                                                     "brain_fingerprint": made_with}))

    def reused() -> bool:
        return cached(spec, out, version=brain_version(str(brain))) is not None

    assert reused() and not outdated(spec, out, brain_version(str(brain)))
    for changed in (model, weights, card):
        changed.write_text("v2")
        assert not reused() and outdated(spec, out, brain_version(str(brain))), changed.name
        changed.write_text("v1")
    assert reused()
    brain.write_text(f"model: {model}\nthreads: 2\ndescription: first\n")
    assert not reused()
    brain.write_text(f"model: {model}\nthreads: 1\ndescription: reworded\n")
    assert reused() and brain_fingerprint(str(brain)) == made_with

    # From before fingerprints: judged by when the run ended (its run.json) against the brain's files' times.
    (run_dir / "result.json").write_text(json.dumps({"status": "finished", "completed": True}))
    (run_dir / "run.json").write_text("{}")
    files = (brain, model, weights, card)
    for path in files:
        os.utime(path, (1_000_000, 1_000_000))
    os.utime(run_dir / "run.json", (2_000_000, 2_000_000))
    os.utime(run_dir / "result.json", (1_000, 1_000))   # rewritten or not, result.json's own time is not read
    assert reused() and not outdated(spec, out, brain_version(str(brain)))
    for changed in files:
        os.utime(changed, (3_000_000, 3_000_000))
        assert not reused() and outdated(spec, out, brain_version(str(brain))), changed.name
        os.utime(changed, (1_000_000, 1_000_000))
    assert reused()
    assert not outdated(RunSpec(str(brain), "many_curves"), out, brain_version(str(brain)))   # never run
    with pytest.raises(ConfigError, match="unknown brain 'no_such_brain'"):
        brain_fingerprint("no_such_brain")


@pytest.mark.slow
@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM"])   # Ctrl-C; kill or a job scheduler (SIGINT is ignored in
def test_ctrl_c_stops_the_whole_matrix_and_marks_the_run_interrupted(tmp_path, stop):   # a shell's background jobs)
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from conftest import ros_env
    out = tmp_path / "runs"
    cmd = [str(Path(sys.executable).parent / "f1-brains"), "evaluate", "--brains", "explicit", "--circuits",
           "simple_circuit", "many_curves", "montreal", "--out", str(out)]
    evaluate_ = subprocess.Popen(cmd, env=ros_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
    first = out / "explicit/simple_circuit/lockstep/r0"
    deadline = time.monotonic() + 60
    while not (first / "sim_summary.json").exists() and not list(first.glob("frames.csv*")) \
            and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)                       # mid-lap
    evaluate_.send_signal(getattr(signal, stop))
    stdout, stderr = evaluate_.communicate(timeout=60)
    assert evaluate_.returncode == 130, stderr[-2000:]
    assert "interrupted: 1 run(s) stopped and marked interrupted, 2 not started" in stderr
    result = json.loads((first / "result.json").read_text())
    assert result["status"] == "interrupted" and not result["completed"]
    assert json.loads((first / "run.json").read_text())["laps"]        # what the brain had, saved
    assert not (out / "explicit/many_curves").exists()
    # The next evaluate runs the interrupted run again (and the two never started).
    [again] = evaluate([RunSpec("explicit", "simple_circuit")], out, progress=False)
    assert again["status"] == "finished" and again["completed"]


def test_robustness_margins_and_heatmap_of_a_stress_matrix(tmp_path):
    """Synthetic stress matrix with known answers: 'steady' laps everything but noise:32; 'fragile' fails from
    noise:8 and at dim:0.3; 'broken' fails in the plain world already."""
    from f1_brains.results import robustness
    fails = {"steady": {"noise:32"}, "fragile": {"noise:8", "noise:32", "dim:0.3"},
             "broken": {"none", "noise:4", "noise:8", "noise:32", "dim:0.6", "dim:0.3"}}
    results = []
    for brain, failing in fails.items():
        for condition in ("none", "noise:4", "noise:8", "noise:32", "dim:0.6", "dim:0.3"):
            for repeat in range(2):
                r = result(brain, repeat, condition not in failing, 0.02)
                results.append({**r, "condition": condition})
    results[1] = {**results[1], "completed": False}   # steady, none, repeat 1: one plain run lost
    margins = {r["brain"]: r for r in robustness.margins(results)}
    assert margins["fragile"]["noise"]["margin"] == 4 and margins["fragile"]["dim"]["margin"] == 0.6
    assert margins["broken"]["noise"]["margin"] is None
    assert margins["steady"]["noise"]["margin"] is None      # with every run required, the lost plain run counts
    assert {r["brain"]: r["noise"]["margin"] for r in robustness.margins(results, required=0.5)}["steady"] == 8
    assert robustness.conditions_of(results) == ["none", "dim:0.6", "dim:0.3", "noise:4", "noise:8", "noise:32"]
    text, data = aggregate.write(results, tmp_path, "f1-brains evaluate test")
    assert "| fragile | lockstep | 0.6 (of 0.6, 0.3) | 4 (of 4, 8, 32) | 2 of 5 |" in text
    held = [line.split(" | ")[0][2:] for line in text.splitlines() if line.endswith(" of 5 |")]
    assert held == ["fragile", "steady", "broken"]   # ranked by levels held: 2, 0, 0 (steady lost a plain run)
    assert "![robustness](plots/robustness.png)" in text and data["robustness"][0]["brain"] == "steady"
    assert "| fragile (onnxruntime) ring lockstep noise:8 |" in text       # a condition is a mode of its own
    names = sorted(p.name for p in (tmp_path / "plots").iterdir())   # per-mode pictures for the plain world only
    assert names == ["bars_lockstep.png", "heatmap_lockstep.png", "robustness.png"]
    assert (tmp_path / "plots" / "robustness.png").stat().st_size > 10_000


def test_margins_per_circuit_show_where_the_overall_margin_comes_from(tmp_path):
    """Two circuits: 'steady' laps noise:32 on the ring but not on the hairpins, so its margin over both is 8 and per
    circuit 32 / 8; 'solo' ran on the ring only (n/a on the hairpins)."""
    from f1_brains.results import robustness
    results = []
    for circuit, brain, failing in (("/tmp/ring.txt", "steady", set()), ("/tmp/hairpins.txt", "steady", {"noise:32"}),
                                    ("/tmp/ring.txt", "solo", {"noise:8", "noise:32"})):
        for condition in ("none", "noise:4", "noise:8", "noise:32"):
            for repeat in range(2):
                results.append({**result(brain, repeat, condition not in failing, 0.02), "circuit": circuit,
                                "condition": condition})
    overall = {r["brain"]: r["noise"]["margin"] for r in robustness.margins(results)}
    assert overall == {"steady": 8, "solo": 4}
    by_circuit = robustness.per_circuit(results)
    assert list(by_circuit) == ["ring", "hairpins"]
    assert {c: {r["brain"]: r["noise"]["margin"] for r in rows} for c, rows in by_circuit.items()} == \
        {"ring": {"steady": 32, "solo": 4}, "hairpins": {"steady": 8}}
    text, data = aggregate.write(results, tmp_path, "f1-brains evaluate test")
    assert "in the order ring / hairpins" in text
    assert "| steady | lockstep | 32 / 8 |" in text and "| solo | lockstep | 4 / n/a |" in text
    plain_only = [r for r in results if r["circuit"] == "/tmp/ring.txt" or r["condition"] == "none"]
    rows = robustness.per_circuit_markdown(robustness.per_circuit(plain_only), ["noise"])
    assert "| steady | lockstep | 32 / n/a |" in rows   # on the hairpins it ran the plain world only
    assert data["robustness_per_circuit"]["hairpins"][0]["noise"]["margin"] == 8
    assert "\n\n\n" not in text
    one = [r for r in results if r["circuit"] == "/tmp/ring.txt"]   # one circuit: no per-circuit table
    assert "### Per circuit" not in aggregate.write(one, tmp_path / "one", "f1-brains evaluate test")[0]
    stressed = [r for r in results if r["condition"] != "none"]   # no plain world: no plots but the heatmap
    text = aggregate.write(stressed, tmp_path / "stressed", "f1-brains evaluate test")[0]
    assert "## Plots" not in text and "\n\n\n" not in text and "![robustness](plots/robustness.png)" in text


def test_reuse_takes_an_earlier_evaluates_results_for_the_runs_they_are_of(tmp_path, capsys):
    """--reuse: a result stands for its run when it is that run, reusable and made by the brain as it is now; OUT's
    own results are kept; a file that is not an evaluate's results is refused before anything is written."""
    from f1_brains.evaluate.fingerprint import brain_fingerprint
    from f1_brains.evaluate.reuse import restore
    model = tmp_path / "net.onnx"
    model.write_text("v1")
    (tmp_path / "net.onnx.card.yaml").write_text("v1")
    brain = tmp_path / "brain.yaml"
    brain.write_text(f"model: {model}\n")
    fingerprint = brain_fingerprint(str(brain))
    specs = [RunSpec(str(brain), "simple_circuit", repeat=r) for r in range(5)]

    def result(spec: RunSpec, **changes) -> dict:
        return {**spec.__dict__, "status": "finished", "completed": True, "end_reason": "completed 1 lap(s)",
                "brain_fingerprint": fingerprint, **changes}

    earlier = tmp_path / "earlier.json"
    earlier.write_text(json.dumps({"results": [
        result(specs[0]), result(specs[1], completed=False, end_reason="hit the wall"),
        result(specs[2], brain_fingerprint="another model"), result(specs[3], status="failed", completed=False),
        result(RunSpec(str(brain), "many_curves")),           # not a run of this matrix
        result(RunSpec(str(brain), "simple_circuit", laps=2)),   # nor this: another number of laps
        {k: v for k, v in result(specs[4]).items() if k != "varied"}]}))   # from before RunSpec had `varied`
    out = tmp_path / "out"
    own = result(specs[0], end_reason="its own")
    (out / specs[0].key).mkdir(parents=True)
    (out / specs[0].key / "result.json").write_text(json.dumps(own))
    done = restore(specs, out, [str(earlier)])
    assert (done.written, done.kept) == (1, 1) and dict(done.refused) == {
        "made by another version of their brain": 1, "failed": 1, "older than RunSpec's fields": 1}
    assert json.loads((out / specs[0].key / "result.json").read_text()) == own
    assert json.loads((out / specs[1].key / "result.json").read_text())["reused_from"] == str(earlier)
    assert not (out / specs[2].key).exists() and not (out / specs[3].key).exists()
    # OUT's own result of an older brain gives way to the file's of the brain as it is.
    stale = tmp_path / "stale"
    (stale / specs[0].key).mkdir(parents=True)
    (stale / specs[0].key / "result.json").write_text(json.dumps(result(specs[0], brain_fingerprint="older")))
    assert restore(specs[:1], stale, [str(earlier)]).written == 1
    assert json.loads((stale / specs[0].key / "result.json").read_text())["brain_fingerprint"] == fingerprint
    # With --retry-failed the lap that hit the wall does not stand for its run either.
    retry = restore(specs[1:2], tmp_path / "out2", [str(earlier)], retry_failed=True)
    assert retry.written == 0 and retry.refused["not completed (--retry-failed)"] == 1
    # Runs the files stand for are not run: evaluate returns them at once.
    restore(specs[:2], tmp_path / "out3", [str(earlier)])
    assert [r["end_reason"] for r in evaluate(specs[:2], tmp_path / "out3", progress=False)] == \
        ["completed 1 lap(s)", "hit the wall"]
    # Bad input: one clear error, before any run and before anything is written.
    (tmp_path / "not_json.json").write_text("{")
    (tmp_path / "laps.json").write_text(json.dumps({"runs": []}))   # another command's file
    for bad, message in (("missing.json", "cannot read"), ("not_json.json", "cannot read"),
                         ("laps.json", "is not the results.json of an f1-brains evaluate")):
        rc = main(["evaluate", "--brains", "explicit", "--circuits", "simple_circuit", "--out", str(tmp_path / "bad"),
                   "--reuse", str(earlier), str(tmp_path / bad)])
        assert rc == 2 and message in capsys.readouterr().err and not (tmp_path / "bad").exists(), bad


def test_each_optimized_brain_is_set_against_its_float_parent(tmp_path):
    """Shipped brains, synthetic runs with known answers: the parents come from the brains' cards (same weights, fp32,
    same runtime; torch_quantized's is torchscript); ONNX int8 loses a latency level, torch static int8 keeps every
    margin, TFLite int8 has no float TFLite in the matrix and so no row."""
    from f1_brains.results import robustness
    from f1_brains.results.float_parent import float_parents
    backends = {"explicit": "explicit", "pilotnet_onnx": "onnxruntime", "pilotnet_onnx_int8": "onnxruntime",
                "pilotnet_torchscript": "torchscript", "pilotnet_torch_static_int8": "torch_quantized",
                "pilotnet_tflite_int8": "tflite"}
    fails = {"pilotnet_onnx_int8": {"latency:130", "latency:150"}, "explicit": {"noise:32"}}
    results = [{**result(brain, repeat, condition not in fails.get(brain, {"latency:150"}), 0.02),
                "condition": condition, "backend": backend}
               for brain, backend in backends.items() for repeat in range(2)
               for condition in ("none", "latency:110", "latency:130", "latency:150", "noise:32")]
    assert float_parents(results) == {"pilotnet_onnx_int8": "pilotnet_onnx",
                                      "pilotnet_torch_static_int8": "pilotnet_torchscript"}
    compared = {c["brain"]: c for c in robustness.against_float_parents(results)}
    assert set(compared) == {"pilotnet_onnx_int8", "pilotnet_torch_static_int8"}
    assert compared["pilotnet_onnx_int8"]["families"]["latency"] == {"change": -1, "margin": 110, "parent_margin": 130}
    assert all(f["change"] == 0 for f in compared["pilotnet_torch_static_int8"]["families"].values())
    text, data = aggregate.write(results, tmp_path, "f1-brains evaluate test")
    assert "| pilotnet_onnx_int8 | pilotnet_onnx | lockstep | -1 (110 vs 130) | = |" in text
    assert "| pilotnet_torch_static_int8 | pilotnet_torchscript | lockstep | = | = |" in text
    assert "1 of 2 optimized brains keep their float parent's margin in every family; lower: pilotnet_onnx_int8 " \
           "(latency)." in text
    assert data["against_float_parent"] == list(compared.values())


def test_stop_processes_with_ends_what_a_killed_launch_left_behind(tmp_path):
    """Nodes run in sessions of their own: once roslaunch is killed, only their command line (the run's directory
    in their log path) finds them."""
    import subprocess
    import sys

    from f1_brains.evaluate.runs import stop_processes_with
    marker = f"{tmp_path}/run/"
    ignores_sigterm = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    children = [subprocess.Popen([sys.executable, "-c", code, f"__log:={marker}ros/log/{i}.log"], start_new_session=True)
                for i, code in enumerate(["import time; time.sleep(60)", ignores_sigterm])]
    time.sleep(0.5)
    assert stop_processes_with(marker, grace=2.0) == 2
    assert [child.wait(timeout=5) for child in children] == [-15, -9]   # SIGTERM, then SIGKILL for the deaf one
    assert stop_processes_with(marker) == 0
