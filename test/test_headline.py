"""`f1-brains headline`: the README's table joined from bench, laps and evaluate JSON files, brain by brain."""
import json
from pathlib import Path

from f1_brains.cli import main
from f1_brains.core.brain import BrainSpec


def bench_row(model, p50, mse, threads=1, speedup=None):
    return {"model": model, "threads": threads, "p50_ms": p50, "size_mb": 1.63, "mse_normalized": mse,
            **({"speedup": speedup} if speedup else {})}


def group(brain, circuit, time_ratio, mae_ratio, completed=3, runs=3, latency_ms=20):
    return {"brain": brain, "circuit": circuit, "latency_ms": latency_ms, "completed": completed, "runs": runs,
            "lap_time_s_vs_explicit": time_ratio, "mae_m_vs_explicit": mae_ratio}


def test_headline_joins_each_brain_with_its_artifact_as_the_brain_runs_it(tmp_path, capsys):
    bf16_model = Path(BrainSpec.load("pilotnet_openvino_bf16").model).name  # the IR the shipped brain runs
    files = {
        "bench": {"rows": [bench_row("models/pilotnet/pilotnet.pt", 1.2, 4e-4, speedup=1.0),
                           bench_row("models/pilotnet/pilotnet.pt", 0.9, 4e-4, threads=2),
                           bench_row("models/pilotnet/pilotnet_openvino.xml", 0.8, 4e-4),
                           bench_row("models/pilotnet/pilotnet_openvino.xml [bf16]", 0.2, 3.9e-4, speedup=6.0),
                           bench_row(f"models/pilotnet/{bf16_model} [bf16]", 0.3, 3.9e-4, speedup=4.1)]},
        "laps": {"groups": [group("explicit", "a", 1.0, 1.0), group("pilotnet_openvino_bf16", "a", 1.01, 0.9),
                            group("pilotnet_openvino_bf16", "b", 0.99, 1.2, completed=2)]},
        "realtime": {"ranking": [{"brain": "pilotnet_openvino_bf16", "mode": "realtime", "completed_runs": 4,
                                  "runs": 5}]},
    }
    for name, data in files.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(data))
    out = tmp_path / "headline.md"
    assert main(["headline", "--brains", "pilotnet_openvino_bf16", "pilotnet_torchscript", "explicit",
                 "--bench", str(tmp_path / "bench.json"), "--laps", str(tmp_path / "laps.json"),
                 "--closed-loop", str(tmp_path / "realtime.json"), "--markdown", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0].endswith("| deviation / explicit | ROS realtime runs |")
    assert lines[2] == "| pilotnet_openvino_bf16 | 1.6 MB | 0.300 ms (4.1x) | 0.97x | 5/6 | 0.990-1.010 | 0.900-1.200 | 4/5 |"
    assert lines[3] == "| pilotnet_torchscript | 1.6 MB | 1.200 ms (1.0x) | 1.00x | - | - | - | - |"
    assert lines[4] == "| explicit | - | - | - | 3/3 | 1.000 | 1.000 | - |"
    capsys.readouterr()
    assert main(["headline", "--bench", str(tmp_path / "laps.json"), "--laps", str(tmp_path / "laps.json")]) == 2
    assert "a results file is not what its option names" in capsys.readouterr().err
