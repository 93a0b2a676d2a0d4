"""The f1-brains command: info and bench (structure of their output, not timing values)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from f1_brains.cli import main

F1_BRAINS = str(Path(sys.executable).parent / "f1-brains")


def test_info_lists_every_backend_and_why_tf_trt_is_unusable():
    result = subprocess.run([F1_BRAINS, "info"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    for name in ("keras", "tflite", "torchscript", "torch_quantized", "onnxruntime"):
        assert lines[name].split()[1] == "yes", lines[name]
        assert "cpu" in lines[name]
    assert lines["tf_trt"].split()[1] == "no" and "TensorRT" in lines["tf_trt"]


def test_bench_writes_markdown_and_json(exported, tmp_path, capsys):
    md, js = tmp_path / "b.md", tmp_path / "b.json"
    rc = main(["bench", str(exported["onnx"]), str(exported["tflite_int8"]), "-n", "20", "--warmup", "2",
               "--passes", "1", "--markdown", str(md), "--json", str(js)])
    assert rc == 0
    rows = json.loads(js.read_text())["rows"]
    assert [r["backend"] for r in rows] == ["onnxruntime", "tflite"]
    for r in rows:
        assert r["n"] == 20 and r["warmup"] == 2
        assert 0 < r["p50_ms"] <= r["p90_ms"] <= r["p99_ms"] <= r["max_ms"]
        assert r["first_inference_ms"] > 0 and r["size_mb"] > 0
    table = md.read_text()
    assert "| pilotnet.onnx | onnxruntime | fp32 |" in table and "| pilotnet_int8.tflite | tflite | int8 |" in table
    assert table in capsys.readouterr().out   # the same table is printed


def test_bench_on_a_directory_finds_carded_artifacts(exported, tmp_path):
    js = tmp_path / "b.json"
    assert main(["bench", str(exported["onnx"].parent), "-n", "5", "--warmup", "1", "--one-process",
                 "--json", str(js)]) == 0
    names = {Path(r["model"]).name for r in json.loads(js.read_text())["rows"]}
    assert names == {"pilotnet.pt", "pilotnet_dynamic_int8.pt", "pilotnet_static_int8.pt", "pilotnet.onnx",
                     "pilotnet.keras", "pilotnet_savedmodel", "pilotnet.tflite", "pilotnet_int8.tflite"}


def test_bench_times_each_model_in_its_own_process_per_thread_count_and_pass(exported, tmp_path, capsys):
    """Rows per model and thread count, medians over passes with their range, speed-ups as median per-pass ratios
    to the baseline at the same thread count; an artifact that does not load is named and skipped."""
    import shutil
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not an onnx model")
    shutil.copy(str(exported["onnx"]) + ".card.yaml", str(broken) + ".card.yaml")
    js = tmp_path / "b.json"
    assert main(["bench", str(exported["torchscript"]), str(exported["onnx"]), str(broken), "-n", "10", "--warmup",
                 "1", "--threads", "1", "2", "--passes", "2", "--baseline", exported["torchscript"].name,
                 "--json", str(js)]) == 0
    rows = json.loads(js.read_text())["rows"]
    assert [(Path(r["model"]).name, r["threads"]) for r in rows] == [
        (exported["onnx"].name, 1), (exported["torchscript"].name, 1),
        (exported["onnx"].name, 2), (exported["torchscript"].name, 2)]
    for r in rows:
        assert r["passes"] == 2 and r["n"] == 10 and r["p50_min_ms"] <= r["p50_ms"] <= r["p50_max_ms"]
        assert r["speedup"] > 0 and (r["speedup"] == 1.0 or r["backend"] != "torchscript")   # baseline: 1x
    out = capsys.readouterr()
    assert "skipped" in out.err and all("broken" not in r["model"] for r in rows)
    from f1_brains.util.host import cpu   # the header names the CPU: int8 speed-ups depend on its instruction sets
    assert f"({cpu()})" in out.out and " cores, " in cpu()


def test_bench_on_a_missing_path_is_a_clear_error(tmp_path, capsys):
    assert main(["bench", str(tmp_path / "nothing")]) == 2
    assert "nothing does not exist" in capsys.readouterr().err


def test_bench_times_the_models_in_turns_so_noise_falls_on_all_alike(exported, frames):
    """Every model gets exactly n timed runs (n not a multiple of the turn), taken in rotating turns."""
    from f1_brains.zoo.bench import TURN, BenchEntry, prepare_bench, time_interleaved
    models = [prepare_bench(BenchEntry(exported[name]), warmup=1, threads=1, frames=frames)
              for name in ("onnx", "tflite")]
    calls: list[str] = []
    for m in models:   # record which model each predict call reached, around the real backend
        m.backend.predict = (lambda predict, name: lambda x: (calls.append(name), predict(x))[1])(
            m.backend.predict, m.path.name)
    n = 2 * TURN + 3
    time_interleaved(models, n, progress=False)
    assert [len(m.times) for m in models] == [n, n]
    turns = [calls[i:i + TURN + 1] for i in range(0, 2 * (TURN + 1) * 2, TURN + 1)]
    assert [t[0] for t in turns] == ["pilotnet.onnx", "pilotnet.tflite", "pilotnet.tflite", "pilotnet.onnx"]
    assert all(len(set(t)) == 1 for t in turns)   # a turn stays on one model


def test_sim_pictures_and_sim_bench_write_their_files(tmp_path, capsys):
    pictures = tmp_path / "pictures"
    assert main(["sim-pictures", "--out", str(pictures)]) == 0
    names = {p.name for p in pictures.glob("*.png")}
    assert {"montreal_camera.png", "montreal_map.png", "appearance_variation.png"} <= names and len(names) == 11
    md, js = tmp_path / "bench.md", tmp_path / "bench.json"
    assert main(["sim-bench", "--frames", "5", "--markdown", str(md), "--json", str(js)]) == 0
    result = json.loads(js.read_text())
    assert set(result["render"]) == {"simple_circuit", "many_curves", "montreal", "montmelo", "nurburgring"}
    assert result["laps"]["end_reason"] == "completed 1 lap(s)" and "| montreal | built-in (field) |" in md.read_text()


def test_world_import_and_fidelity_need_a_checkout_and_say_so(tmp_path, capsys):
    assert main(["world-import", str(tmp_path)]) == 2
    assert "no CustomRobots F1 worlds here" in capsys.readouterr().err
    assert main(["fidelity", str(tmp_path), "--out", str(tmp_path / "f")]) == 2


def test_laps_drives_brains_against_the_explicit_one(exported, tmp_path):
    """`f1-brains laps`: the explicit brain laps at both command latencies (later commands: a wider line), an
    untrained network does not (and the table says how it ended), a brain that cannot load is a row with the reason;
    every lap is in the JSON, in the order asked even with brains driven in parallel processes."""
    md, js = tmp_path / "laps.md", tmp_path / "laps.json"
    rc = main(["laps", "--brains", str(exported["onnx"]), str(tmp_path / "gone.onnx"), "--circuits", "simple_circuit",
               "--latency-ms", "20", "100", "--jobs", "2", "--markdown", str(md), "--json", str(js)])
    assert rc == 1
    data = json.loads(js.read_text())
    prompt, late, untrained, untrained_late, missing = data["runs"]
    assert [r["latency_ms"] for r in data["runs"]] == [20, 100, 20, 100, None]
    assert prompt["brain"] == late["brain"] == "explicit" and prompt["completed"] and late["completed"]
    assert 40 < prompt["lap_time_s"] < 50 and late["mae_m"] > prompt["mae_m"]
    assert not untrained["completed"] and untrained["end_reason"].startswith(("hit the wall", "stuck", "timeout"))
    assert missing["end_reason"].startswith("not loaded: model") and "gone.onnx does not exist" in missing["end_reason"]
    text = md.read_text()
    assert "| explicit | simple_circuit | 20 | 1/1 |" in text and "| explicit | simple_circuit | 100 | 1/1 |" in text
    assert text.count("| 1.000 |") >= 2     # each latency's explicit row is its own reference
    assert "| pilotnet.onnx | simple_circuit | 20 | 0/1 (" in text


def test_laps_table_shows_the_spread_over_seeds():
    """Per cell: the median over the seeds, their range in brackets (none for a single value), ratios of medians."""
    from f1_brains.evaluate import offline_laps
    lap = lambda brain, seed, t, mae: {"brain": brain, "circuit": "c", "latency_ms": 20, "seed": seed,  # noqa: E731
                                      "completed": True, "end_reason": "completed", "lap_time_s": t,
                                      "average_speed": 100 / t, "mae_m": mae, "max_m": 3 * mae}
    rows = [lap("explicit", 0, 40.0, 0.05), lap("explicit", 1, 40.001, 0.0501),   # the same at the table's precision
            lap("net", 0, 41.0, 0.06), lap("net", 1, 43.0, 0.10), lap("net", 2, 42.0, 0.08),
            {**lap("net", 3, 1.0, 0.0), "completed": False, "end_reason": "hit the wall"}]
    explicit, net = offline_laps.summary(rows)
    assert (net["completed"], net["runs"], net["lap_time_range"], net["mae_range"]) == (3, 4, [41.0, 43.0], [0.06, 0.10])
    assert net["lap_time_s_vs_explicit"] == pytest.approx(42.0 / 40.0005)   # ratios of the medians
    assert net["mae_m_vs_explicit"] == pytest.approx(0.08 / 0.05005)
    text = offline_laps.markdown([explicit, net], "f1-brains laps")
    assert "| explicit | c | 20 | 2/2 | 40.00 | 1.000 | 2.50 | 0.050 | 1.00 |" in text   # no "(40.00-40.00)"
    assert "| net | c | 20 | 3/4 (hit the wall) | 42.00 (41.00-43.00) | 1.050 |" in text and "| 0.080 (0.060-0.100) | 1.60 |" in text


def test_laps_update_replaces_the_laps_driven_again_and_keeps_the_rest(tmp_path, capsys):
    """--update: an earlier table's laps, those driven now replaced in place (same brain, circuit, latency, seed), new
    ones appended; the command line says both; a file that is no laps table is refused before any lap."""
    earlier = tmp_path / "earlier.json"
    fake = {"circuit": "simple_circuit", "latency_ms": 20, "seed": 0, "completed": True, "end_reason": "completed",
            "lap_time_s": 99.0, "average_speed": 4.0, "mae_m": 0.5, "max_m": 1.0}
    earlier.write_text(json.dumps({"command": "f1-brains laps --brains explicit net", "runs": [
        {**fake, "brain": "explicit"}, {**fake, "brain": "net"}]}))
    merged = tmp_path / "merged.json"
    assert main(["laps", "--brains", "explicit", "--circuits", "simple_circuit", "--latency-ms", "20", "50",
                 "--update", str(earlier), "--json", str(merged)]) == 0
    data = json.loads(merged.read_text())
    assert [(r["brain"], r["latency_ms"]) for r in data["runs"]] == [("explicit", 20), ("net", 20), ("explicit", 50)]
    assert 40 < data["runs"][0]["lap_time_s"] < 50 and data["runs"][1]["lap_time_s"] == 99.0
    assert data["command"].startswith("f1-brains laps --brains explicit net, then f1-brains laps")
    assert {(g["brain"], g["latency_ms"]) for g in data["groups"]} == {("explicit", 20), ("net", 20), ("explicit", 50)}
    capsys.readouterr()
    (tmp_path / "other.json").write_text(json.dumps({"rows": []}))
    assert main(["laps", "--brains", "explicit", "--update", str(tmp_path / "other.json")]) == 2
    assert "other.json: not a readable `f1-brains laps --json` file" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["-5", "fast", "nan"])
def test_a_latency_must_be_milliseconds_at_least_zero(bad, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["laps", "--latency-ms", bad])
    assert stop.value.code == 2 and "a latency is milliseconds >= 0" in capsys.readouterr().err


def test_all_circuits_can_have_points_files_beside_them():
    from argparse import Namespace

    from f1_brains.cli import matrix_names
    from f1_brains.worlds.circuits import CIRCUITS
    _, circuits = matrix_names(Namespace(brains=["explicit"], circuits=["all", "mine.txt", "montreal"]))
    assert circuits == [*CIRCUITS, "mine.txt"] and len(CIRCUITS) == 5
