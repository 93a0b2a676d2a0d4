"""`f1-brains bench` on a small machine, fairly: every model timed in a process of its own (only its library's
thread pools in it), at each thread count, in several passes whose model order rotates; a row reports the median
over the passes and their range, and its speed-up is the median of per-pass ratios to the baseline (measured in the
same pass, at the same thread count).

A worker is ``python -m f1_brains.zoo.bench_isolated '<json job>'``: it loads one artifact, times it as
``bench.prepare_bench`` and ``bench.time_interleaved`` do for one model, and prints one JSON row.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .bench import BenchEntry

WORKER_TIMEOUT = 900.0   # s for one model's load, scoring and timing


def measure(job: dict[str, Any]) -> dict[str, Any]:
    """One model in this process (the worker's work): its bench row, or {"error": ...}."""
    from ..core.synthetic import road_frames
    from ..errors import F1BrainsError
    from ..util.timing import summarize
    from . import bench
    try:
        entry = bench.BenchEntry(Path(job["path"]), tuple(tuple(o) for o in job.get("options", ())))
        model = bench.prepare_bench(entry, job["warmup"], job["threads"], road_frames(32, seed=3),
                                    bench.load_test_set(job.get("data")))
    except F1BrainsError as e:
        return {"error": str(e)}
    bench.time_interleaved([model], job["n"], progress=False)
    return {**model.row, **summarize(model.times)}


def run_worker(job: dict[str, Any]) -> dict[str, Any]:
    result = subprocess.run([sys.executable, "-m", __name__, json.dumps(job)], capture_output=True, text=True,
                            timeout=WORKER_TIMEOUT)
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        return {"error": f"worker exited {result.returncode}: {result.stderr.strip()[-400:]}"}
    return json.loads(lines[-1])


def run(entries: list[BenchEntry], n: int, warmup: int, threads: list[int], data: str | None = None,
        passes: int = 3, baseline: str = "pilotnet.pt", progress: bool = True) -> list[dict[str, Any]]:
    """One row per entry and thread count (entries that do not load are named on stderr and skipped)."""
    from tqdm import tqdm
    jobs = [(p, t, entry) for p in range(passes) for t in threads
            for entry in np.roll(np.array(entries, dtype=object), -p)]   # each pass starts elsewhere
    found: dict[tuple[str, int], list[dict[str, Any]]] = {}
    broken: set[str] = set()
    for p, t, entry in tqdm(jobs, desc="bench (a process per model)", unit="run", file=sys.stderr,
                            disable=not progress):
        if entry.label in broken:
            continue
        scored = data if p == 0 and t == threads[0] else None   # scores once per model: they do not depend on it
        row = run_worker({"path": str(entry.path), "options": [list(o) for o in entry.options], "n": n,
                          "warmup": warmup, "threads": t, "data": scored})
        if "error" in row:
            print(f"bench: skipped {entry.label}: {row['error']}", file=sys.stderr)
            broken.add(entry.label)
            continue
        found.setdefault((entry.label, t), []).append({**row, "pass": p})
    return combine(found, baseline)


def combine(found: dict[tuple[str, int], list[dict[str, Any]]], baseline: str) -> list[dict[str, Any]]:
    """Median over passes, the p50's range, and the median per-pass speed-up against ``baseline`` at the same
    thread count (None where the baseline was not timed)."""
    rows = []
    for (path, threads), runs in found.items():
        base = next((b for (bp, bt), b in found.items() if Path(bp).name == baseline and bt == threads), None)
        ratios = [b["p50_ms"] / r["p50_ms"] for r in runs for b in base or () if b["pass"] == r["pass"]]
        scores = next((r for r in runs if "mse_normalized" in r), {})
        p50s = [r["p50_ms"] for r in runs]
        rows.append({**runs[0], **{k: v for k, v in scores.items() if k.startswith("mse") or k == "test_frames"},
                     "passes": len(runs), "p50_ms": float(np.median(p50s)), "p50_min_ms": min(p50s),
                     "p50_max_ms": max(p50s), **{k: float(np.median([r[k] for r in runs]))
                                                 for k in ("mean_ms", "p90_ms", "p99_ms", "preprocess_p50_ms")},
                     "max_ms": max(r["max_ms"] for r in runs),
                     "speedup": float(np.median(ratios)) if ratios else None, "baseline": baseline})
        rows[-1].pop("pass", None)
    return sorted(rows, key=lambda r: (r["threads"], r["model"]))


if __name__ == "__main__":
    print(json.dumps(measure(json.loads(sys.argv[1]))))
