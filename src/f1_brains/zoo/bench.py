"""`f1-brains bench`: every artifact with a card timed at batch 1 on real preprocessed frames, interleaved so the
ratios hold on a busy machine, and (with a dataset) scored on its held-out frames: the seeds' offline table."""
from __future__ import annotations

import csv
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.backends import Backend, LoadOptions, backend_class, backend_for_artifact, load_backend
from ..core.model_card import ModelCard, card_path_for
from ..core.synthetic import road_frames
from ..errors import F1BrainsError
from ..util.host import cpu, versions
from ..util.tables import markdown_table
from ..util.timing import summarize


def model_artifacts(roots: list[str]) -> list[Path]:
    """Artifacts with a card under the given files/directories (SavedModel directories included)."""
    found: list[Path] = []
    for root in map(Path, roots):
        if root.is_file() or (root / "saved_model.pb").is_file():
            found.append(root)
        elif root.is_dir():
            found += sorted(p for p in root.rglob("*") if card_path_for(p).is_file() and not p.name.endswith(".yaml"))
        else:
            raise F1BrainsError(f"bench: {root} does not exist")
    return found


@dataclass(frozen=True)
class BenchEntry:
    """One configuration to time: an artifact, with backend options beyond its card's defaults (OpenVINO's bf16)."""
    path: Path
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def label(self) -> str:
        return str(self.path) + "".join(f" [{value}]" for _, value in self.options)


def bench_entries(artifacts: list[Path]) -> list[BenchEntry]:
    """Every artifact as its card runs it, then once per alternative its backend offers on this machine
    (``Backend.bench_options``)."""
    entries = []
    for path in artifacts:
        entries.append(BenchEntry(path))
        try:
            options = backend_class(backend_for_artifact(path)).bench_options(ModelCard.load(card_path_for(path)))
        except F1BrainsError:
            continue   # prepare_bench names the problem when it loads the artifact
        entries += [BenchEntry(path, tuple(o.items())) for o in options]
    return entries


def accuracy(backend: Backend, card: ModelCard, pixels: np.ndarray, v: np.ndarray, w: np.ndarray, batch: int = 64) -> dict[str, float]:
    """MSE of v (m/s), w (rad/s) and of the normalized pair, on a labelled dataset."""
    raw = np.concatenate([backend.predict(card.to_tensor(pixels[i:i + batch])) for i in range(0, len(pixels), batch)])
    target = card.normalize_outputs(v, w)
    (v0, v1), (w0, w1) = card.output.ranges["v"], card.output.ranges["w"]
    err = raw[:, :2] - target
    return {"mse_v": float(((err[:, 0] * (v1 - v0)) ** 2).mean()), "mse_w": float(((err[:, 1] * (w1 - w0)) ** 2).mean()),
            "mse_normalized": float((err ** 2).mean()), "test_frames": int(len(pixels))}


TURN = 10   # timed runs per model per turn of the interleaved timing


@dataclass
class BenchModel:
    """One artifact loaded for benchmarking: its backend, its preprocessed inputs, and what is known so far."""
    path: Path
    backend: Backend
    inputs: list[np.ndarray]
    row: dict[str, Any]
    times: list[float] = field(default_factory=list)


def prepare_bench(entry: BenchEntry, warmup: int, threads: int, frames: list[np.ndarray],
                  test_set: tuple | None = None) -> BenchModel:
    """Load one artifact, time its first inference, warm it up, score it on the test set and time its
    preprocessing; the timed runs come later (``time_interleaved``)."""
    path, options = entry.path, dict(entry.options)
    card = ModelCard.load(card_path_for(path))
    t0 = time.perf_counter()
    backend = load_backend(path, options=LoadOptions(threads=threads, extra=entry.options))
    load_s = time.perf_counter() - t0
    inputs = [card.preprocess(f) for f in frames]
    t0 = time.perf_counter()
    backend.predict(inputs[0])
    first_s = time.perf_counter() - t0
    for i in range(warmup):
        backend.predict(inputs[i % len(inputs)])
    pre = []
    for f in frames:
        t = time.perf_counter()
        card.preprocess(f)
        pre.append(time.perf_counter() - t)
    scores = {}
    if test_set is not None:
        pixels, v, w, stored = test_set
        if stored.crops_like(card.input):
            scores = accuracy(backend, card, pixels, v, w)
        else:
            print(f"bench: no test-set scores for {path}: the dataset stores rows {stored.crop_rows} at "
                  f"{stored.width}x{stored.height} {stored.color}, its card wants rows {card.input.crop_rows} at "
                  f"{card.input.width}x{card.input.height} {card.input.color}", file=sys.stderr)
    method = card.provenance.get("method")
    row = {**scores, "model": entry.label, "backend": backend.name, "device": backend.device,
           "precision": options.get("precision", card.precision),
           "method": f"{method}, run in {options['precision']}" if "precision" in options and method else method,
           "threads": threads, "size_mb": artifact_size(path) / 1e6, "gzip_mb": artifact_size(path, compressed=True) / 1e6,
           "load_s": load_s, "first_inference_ms": first_s * 1e3, "warmup": warmup,
           "preprocess_p50_ms": summarize(pre)["p50_ms"], **({"xla": backend.xla} if hasattr(backend, "xla") else {})}
    return BenchModel(path, backend, inputs, row)


def time_interleaved(models: list[BenchModel], n: int, progress: bool = True) -> None:
    """``n`` timed batch-1 runs per model, taken in turns of TURN runs, the models' order rotating every turn,
    so a noisy spell on a shared machine falls on every model alike and the in-run ratios stay fair. Each
    turn starts with one untimed run (the model's caches were just used by another)."""
    from tqdm import tqdm
    turns = -(-n // TURN)
    for turn in tqdm(range(turns), desc="bench timing", unit="turn", file=sys.stderr, disable=not progress):
        runs = min(TURN, n - turn * TURN)
        shift = turn % len(models)
        for m in models[shift:] + models[:shift]:
            m.backend.predict(m.inputs[turn % len(m.inputs)])
            for i in range(runs):
                x = m.inputs[(turn * TURN + i) % len(m.inputs)]
                t = time.perf_counter()
                m.backend.predict(x)
                m.times.append(time.perf_counter() - t)


def artifact_size(path: Path, compressed: bool = False) -> int:
    """Bytes on disk (a directory: all its files; an OpenVINO IR: its .xml and .bin); ``compressed``: gzip-compressed,
    where pruned and clustered weights show their savings."""
    import gzip
    files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
    if path.suffix == ".xml" and path.with_suffix(".bin").is_file():
        files.append(path.with_suffix(".bin"))
    return sum(len(gzip.compress(p.read_bytes(), 6)) if compressed else p.stat().st_size for p in files)


def markdown(rows: list[dict[str, Any]], command: str, baseline: str = "pilotnet.pt") -> str:
    """The latency table; with test-set scores, the seeds' offline table too; ratios to ``baseline`` at the same
    thread count (in a process per model: the median of per-pass ratios), else to the slowest model."""
    isolated = "passes" in rows[0]
    def base_for(r: dict[str, Any]) -> dict[str, Any]:
        same = [b for b in rows if b["threads"] == r["threads"]]
        return next((b for b in same if Path(b["model"]).name == baseline), max(same, key=lambda b: b["p50_ms"]))
    def speedup(r: dict[str, Any]) -> str:
        ratio = r.get("speedup") if isolated else base_for(r)["p50_ms"] / r["p50_ms"]
        return "-" if ratio is None else f"{ratio:.2f}x"
    base = base_for(rows[0])
    lines = [f"Measured with `{command}` on {platform.node()} ({cpu()}), "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; batch 1, real preprocessed frames. "
             f"Ratios: against {Path(base['model']).name} at the same thread count, measured in the same run.",
             "Packages: " + ", ".join(f"{k} {v}" for k, v in versions().items()), ""]
    spread = ["p50 range ms"] if isolated else []
    lines.append(markdown_table(
        ["model", "backend", "precision", "threads", "size MB", "first ms", "n", "mean ms", "p50 ms", *spread,
         "p90 ms", "p99 ms", "max ms", "p50 speed-up", "preprocess p50 ms"],
        [[Path(r["model"]).name, f"{r['backend']}{' (xla)' if r.get('xla') else ''}", r["precision"], r["threads"],
          f"{r['size_mb']:.2f}", f"{r['first_inference_ms']:.1f}", r["n"], f"{r['mean_ms']:.3f}", f"{r['p50_ms']:.3f}",
          *([f"{r['p50_min_ms']:.3f}-{r['p50_max_ms']:.3f}"] if isolated else []),
          f"{r['p90_ms']:.3f}", f"{r['p99_ms']:.3f}", f"{r['max_ms']:.3f}", speedup(r),
          f"{r['preprocess_p50_ms']:.3f}"] for r in rows]).rstrip("\n"))
    if isolated:
        lines += ["", f"Inference only (the backend's predict call). Each model runs in a process of its own (only its "
                  f"library's thread pools), {rows[0]['warmup']} warm-up runs after the first inference excluded, "
                  f"{rows[0]['n']} timed runs per pass, {rows[0]['passes']} passes with the models' order rotating; "
                  "the columns are medians over the passes (p50 range: the passes' lowest and highest p50, max: the "
                  "highest), the speed-up the median of the per-pass ratios. Preprocessing is timed separately."]
    else:
        lines += ["", f"Inference only (the backend's predict call); {rows[0]['warmup']} warm-up runs after the first "
                  f"inference are excluded. The models share one process and are timed in turns of {TURN} runs, their "
                  "order rotating, each turn after one untimed run. Preprocessing is timed separately."]
    scored = [r for r in rows if "mse_v" in r and r["threads"] == rows[0]["threads"]]
    if "mse_v" in base and scored:
        lines += ["", f"Offline evaluation on the held-out test set ({base['test_frames']} frames):", ""]
        lines.append(markdown_table(
            ["model", "method", "size MB", "size vs base", "gzip MB", "MSE v (m/s)^2", "MSE w (rad/s)^2",
             "MSE normalized", "MSE vs base", "p50 ms", "p50 speed-up"],
            [[Path(r["model"]).name, r.get("method") or r["precision"], f"{r['size_mb']:.2f}",
              f"{r['size_mb'] / base['size_mb']:.0%}", f"{r['gzip_mb']:.2f}", f"{r['mse_v']:.5f}", f"{r['mse_w']:.6f}",
              f"{r['mse_normalized']:.3e}", f"{r['mse_normalized'] / base['mse_normalized']:.3f}x",
              f"{r['p50_ms']:.3f}", speedup(r)] for r in scored]).rstrip("\n"))
    return "\n".join(lines) + "\n"


def load_test_set(data: str | None) -> tuple | None:
    """(pixels, v, w, stored input spec) of a labelled dataset directory, for ``prepare_bench``; None without."""
    if not data:
        return None
    from . import dataset
    pixels, labels, manifest = dataset.load(data)
    return np.asarray(pixels), labels["v"], labels["w"], dataset.stored_input(manifest)


def run(entries: list[BenchEntry], n: int, warmup: int, threads: int, data: str | None = None,
        progress: bool = True) -> list[dict[str, Any]]:
    """One row per entry that loads (the others are named on stderr and skipped): what it is, its test-set
    scores when ``data`` (a dataset directory) is given, and its timing percentiles."""
    from tqdm import tqdm
    frames = road_frames(32, seed=3)
    test_set = load_test_set(data)
    models = []
    for entry in tqdm(entries, desc="bench loading", unit="model", file=sys.stderr, disable=not progress):
        try:
            models.append(prepare_bench(entry, warmup, threads, frames, test_set))
        except F1BrainsError as e:
            print(f"bench: skipped {entry.label}: {e}", file=sys.stderr)
    if not models:
        return []
    time_interleaved(models, n, progress)
    return [{**m.row, **summarize(m.times)} for m in models]


def write_csv(rows: list[dict[str, Any]], path: str | Path) -> None:
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
