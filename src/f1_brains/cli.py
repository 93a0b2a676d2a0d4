"""`f1-brains <command>`: info, bench, dataset, train, export, optimize, evaluate, report, sim-pictures, sim-bench,
world-import, fidelity."""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import paths
from .errors import F1BrainsError
from .host import versions
from .tables import markdown_table

def cmd_info(args: argparse.Namespace) -> int:
    from .backends import BACKENDS
    print(f"host: {platform.node()}, {platform.machine()}, Python {platform.python_version()}")
    print("packages: " + ", ".join(f"{k} {v}" for k, v in versions().items()))
    print(f"{'backend':16s} {'usable':6s}  devices / reason")
    usable_any = False
    for name, cls in BACKENDS.items():
        reason = cls.unavailable_reason()
        if reason is None:
            usable_any = True
            print(f"{name:16s} {'yes':6s}  {', '.join(cls.usable_devices())}")
        else:
            print(f"{name:16s} {'no':6s}  {reason}")
    return 0 if usable_any else 1


def model_artifacts(roots: list[str]) -> list[Path]:
    """Artifacts with a card under the given files/directories (SavedModel directories included)."""
    from .model_card import card_path_for
    found: list[Path] = []
    for root in map(Path, roots):
        if root.is_file() or (root / "saved_model.pb").is_file():
            found.append(root)
        elif root.is_dir():
            found += sorted(p for p in root.rglob("*") if card_path_for(p).is_file() and not p.name.endswith(".yaml"))
        else:
            raise F1BrainsError(f"bench: {root} does not exist")
    return found


def accuracy(backend, card, pixels: np.ndarray, v: np.ndarray, w: np.ndarray, batch: int = 64) -> dict[str, float]:
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
    backend: Any
    inputs: list[np.ndarray]
    row: dict[str, Any]
    times: list[float] = field(default_factory=list)


def prepare_bench(path: Path, warmup: int, threads: int, frames: list[np.ndarray],
                  test_set: tuple | None = None) -> BenchModel:
    """Load one artifact, time its first inference, warm it up, score it on the test set and time its
    preprocessing; the timed runs come later (``time_interleaved``)."""
    from .backends import LoadOptions, load_backend
    from .model_card import ModelCard, card_path_for
    from .timing import summarize
    card = ModelCard.load(card_path_for(path))
    t0 = time.perf_counter()
    backend = load_backend(path, options=LoadOptions(threads=threads))
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
    scores = accuracy(backend, card, *test_set) if test_set is not None else {}
    row = {**scores, "model": str(path), "backend": backend.name, "device": backend.device, "precision": card.precision,
           "method": card.provenance.get("method"),
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
    """Bytes on disk (a directory: all its files); ``compressed``: gzip-compressed, where pruned and
    clustered weights show their savings."""
    import gzip
    files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
    return sum(len(gzip.compress(p.read_bytes(), 6)) if compressed else p.stat().st_size for p in files)


def bench_markdown(rows: list[dict[str, Any]], command: str, baseline: str = "pilotnet.pt") -> str:
    """The latency table; with test-set scores, the seeds' offline table too; ratios to ``baseline``."""
    base = next((r for r in rows if Path(r["model"]).name == baseline), max(rows, key=lambda r: r["p50_ms"]))
    lines = [f"Measured with `{command}` on {platform.node()} ({platform.machine()}), "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; batch 1, real preprocessed frames. "
             f"Ratios: against {Path(base['model']).name}, measured in the same run.",
             "Packages: " + ", ".join(f"{k} {v}" for k, v in versions().items()), ""]
    lines.append(markdown_table(
        ["model", "backend", "precision", "threads", "size MB", "first ms", "n", "mean ms", "p50 ms", "p90 ms",
         "p99 ms", "max ms", "p50 speed-up", "preprocess p50 ms"],
        [[Path(r["model"]).name, f"{r['backend']}{' (xla)' if r.get('xla') else ''}", r["precision"], r["threads"],
          f"{r['size_mb']:.2f}", f"{r['first_inference_ms']:.1f}", r["n"], f"{r['mean_ms']:.3f}", f"{r['p50_ms']:.3f}",
          f"{r['p90_ms']:.3f}", f"{r['p99_ms']:.3f}", f"{r['max_ms']:.3f}", f"{base['p50_ms'] / r['p50_ms']:.2f}x",
          f"{r['preprocess_p50_ms']:.3f}"] for r in rows]).rstrip("\n"))
    lines += ["", f"Inference only (the backend's predict call); {rows[0]['warmup']} warm-up runs after the first "
              f"inference are excluded. The models are timed in turns of {TURN} runs, their order rotating, each "
              "turn after one untimed run, so the ratios hold on a busy machine. Preprocessing (crop, resize, "
              "normalize, layout) is timed separately."]
    if "mse_v" in base:
        lines += ["", f"Offline evaluation on the held-out test set ({base['test_frames']} frames):", ""]
        lines.append(markdown_table(
            ["model", "method", "size MB", "size vs base", "gzip MB", "MSE v (m/s)^2", "MSE w (rad/s)^2",
             "MSE normalized", "MSE vs base", "p50 ms", "p50 speed-up"],
            [[Path(r["model"]).name, r.get("method") or r["precision"], f"{r['size_mb']:.2f}",
              f"{r['size_mb'] / base['size_mb']:.0%}", f"{r['gzip_mb']:.2f}", f"{r['mse_v']:.5f}", f"{r['mse_w']:.6f}",
              f"{r['mse_normalized']:.3e}", f"{r['mse_normalized'] / base['mse_normalized']:.3f}x",
              f"{r['p50_ms']:.3f}", f"{base['p50_ms'] / r['p50_ms']:.2f}x"] for r in rows]).rstrip("\n"))
    return "\n".join(lines) + "\n"


def cmd_bench(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .synthetic import road_frames
    artifacts = model_artifacts(args.models or [str(paths.package_root() / "models")])
    if not artifacts:
        print("bench: no models with cards found (f1-brains export writes them)", file=sys.stderr)
        return 1
    frames = road_frames(32, seed=3)
    test_set = None
    if args.data:
        from .zoo import dataset
        pixels, labels, _ = dataset.load(args.data)
        test_set = (np.asarray(pixels), labels["v"], labels["w"])
    models = []
    for path in tqdm(artifacts, desc="bench loading", unit="model", file=sys.stderr):
        try:
            models.append(prepare_bench(path, args.warmup, args.threads, frames, test_set))
        except F1BrainsError as e:
            print(f"bench: skipped {path}: {e}", file=sys.stderr)
    if not models:
        return 1
    from .timing import summarize
    time_interleaved(models, args.n)
    rows = [{**m.row, **summarize(m.times)} for m in models]
    command = this_command("f1-brains bench")
    table = bench_markdown(rows, command, args.baseline)
    print(table)
    write_outputs(args, table, {"command": command, "versions": versions(), "rows": rows})
    if args.csv:
        import csv
        columns = list(dict.fromkeys(k for r in rows for k in r))
        with open(args.csv, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
    return 0


def write_outputs(args: argparse.Namespace, markdown: str, data: dict[str, Any]) -> None:
    """Write ``--markdown`` and ``--json`` files when asked for."""
    for path, text in ((args.markdown, markdown), (args.json, json.dumps(data, indent=2))):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text)


def this_command(default: str) -> str:
    """The command line as typed, for the 'measured with' line of reports."""
    return "f1-brains " + " ".join(sys.argv[1:]) if sys.argv[0].endswith("f1-brains") else default


def load_pilotnet(weights: str | None, seed: int) -> tuple[Any, dict[str, Any], Any]:
    """(PyTorch PilotNet, provenance, OutputSpec): trained ``weights`` with the output ranges of their
    training card, or an untrained network from ``seed``."""
    import torch

    from .model_card import ModelCard, OutputSpec
    from .zoo import pilotnet
    from .zoo.train import TRAINING_CARD
    model = pilotnet.torch_pilotnet(seed)
    provenance: dict[str, Any] = {"network": "PilotNet (f1_brains.zoo.pilotnet)"}
    output = OutputSpec()
    if weights:
        if not Path(weights).is_file():
            raise F1BrainsError(f"weights {weights} do not exist (f1-brains train writes them)")
        model.load_state_dict(torch.load(weights, map_location="cpu"))
        provenance["weights"] = str(weights)
        training_card = Path(weights).with_name(TRAINING_CARD)
        if training_card.is_file():   # the output ranges the network was trained with
            output = ModelCard.load(training_card).output
    else:
        provenance["weights"] = f"untrained, torch seed {seed}"
    return model.eval(), provenance, output


def cmd_export(args: argparse.Namespace) -> int:
    from .zoo import export
    model, provenance, output = load_pilotnet(args.weights, args.seed)
    pixels = None
    if args.calibration:
        from .zoo import dataset
        pixels = dataset.load(args.calibration)[0]
        provenance["int8_calibration"] = f"256 frames of {args.calibration}"
    paths_written = export.export_all(model, args.out, args.formats or export.FORMATS, provenance,
                                      output=output, calibration_pixels=pixels)
    for fmt, path in paths_written.items():
        print(f"{fmt:20s} {path}")
    return 0


def cmd_optimize(args: argparse.Namespace) -> int:
    from .zoo import optimize
    from .zoo.finetune import TuningSet
    model, provenance, output = load_pilotnet(args.weights, args.seed)
    data = None
    if args.data:
        data = TuningSet.load(args.data, output)
        provenance["data"] = [str(d) for d in args.data]
    names = args.variants or list(optimize.ALL)
    try:
        report = optimize.optimize(model, args.out, names, data, args.steps, args.seed, provenance, output)
    except ValueError as e:
        raise F1BrainsError(str(e)) from None
    print(f"{'variant':26s} {'status':8s} artifact / reason")
    for name, r in report.items():
        print(f"{name:26s} {r['status']:8s} {r.get('path') or r.get('reason')}")
    print(f"written: {Path(args.out) / 'optimize.json'}")
    return 1 if any(r["status"] == "failed" for r in report.values()) else 0


def cmd_sim_pictures(args: argparse.Namespace) -> int:
    from .sim import showcase
    for path in showcase.pictures(Path(args.out)):
        print(path)
    return 0


def cmd_sim_bench(args: argparse.Namespace) -> int:
    from .sim import showcase
    command = this_command("f1-brains sim-bench")
    result = showcase.sim_bench(frames=args.frames, customrobots=args.customrobots)
    table = showcase.sim_bench_markdown(result, command)
    print(table)
    write_outputs(args, table, {"command": command, **result})
    return 0


def cmd_world_import(args: argparse.Namespace) -> int:
    from .sim.circuits import DATA_DIR
    from .worlds.import_circuits import format_summaries, import_circuits
    out = Path(args.out) if args.out else DATA_DIR
    summaries = import_circuits(args.customrobots, out, args.circuits)
    print(format_summaries(summaries))
    print(f"written: {', '.join(str(out / (s['circuit'] + '.json')) for s in summaries)}")
    return 0


def cmd_fidelity(args: argparse.Namespace) -> int:
    from .recorder import load_reference
    from .sim import fidelity
    bags = {}
    for name, stem in fidelity.BAG_NAMES.items():          # BM's perfect-lap bags, where the folder has them
        bag = Path(args.bags or "") / f"lap-{stem}.bag"
        if args.bags and bag.is_file():
            bags[name] = load_reference(bag=str(bag))[1]
    result = fidelity.fidelity(args.customrobots, bags, args.out, args.poses, args.seed, args.circuits,
                               laps=not args.no_laps)
    markdown = Path(args.markdown) if args.markdown else Path(args.out).with_suffix(".md")
    rel = Path(args.out).resolve().relative_to(markdown.resolve().parent) \
        if Path(args.out).resolve().is_relative_to(markdown.resolve().parent) else Path(args.out).resolve()
    text = fidelity.markdown(result, this_command("f1-brains fidelity"), str(rel))
    markdown.write_text(text)
    print(text)
    print(f"written: {markdown}, {Path(args.out) / 'fidelity.json'}, pictures in {args.out}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from . import aggregate
    from .evaluate import RunSpec, evaluate
    from .files import write_json_atomic
    from .sim.circuits import CIRCUITS
    circuits = list(CIRCUITS) if args.circuits == ["all"] else args.circuits
    brains = sorted(p.stem for p in paths.brains_dir().glob("*.yaml")) if args.brains == ["all"] else args.brains
    specs = [RunSpec(b, c, m, args.laps, r, args.timeout) for b in brains for c in circuits for m in args.modes
             for r in range(args.repeats)]
    results = evaluate(specs, args.out, args.jobs)
    text, data = aggregate.write(results, args.out, this_command("f1-brains evaluate"), args.markdown)
    print(text)
    print(f"written: {Path(args.out) / 'results.md'}, results.csv, results.json, plots/")
    if args.json:
        write_json_atomic(args.json, data)
    return 0 if all(r["completed"] for r in results) else 1


def cmd_report(args: argparse.Namespace) -> int:
    from .report import report
    text, written = report(args.runs, args.out)
    print(text)
    for path in written:
        print(path)
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(text)
    return 0


def cmd_dataset(args: argparse.Namespace) -> int:
    from .zoo import dataset
    manifest = dataset.collect(args.out, args.circuits, args.laps, args.seed, disturb=not args.no_disturbance)
    print(f"{manifest['frames']} frames in {args.out}; laps: " + ", ".join(f"{k}: {v}" for k, v in manifest["lap_ends"].items()))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .zoo import train
    result = train.train(args.data, args.out, args.epochs, args.batch, args.lr, args.seed, args.val_laps, args.threads)
    print(f"best validation MSE (normalized) {result['best_val_mse_normalized']:.5f}; weights in {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="f1-brains", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="which backends and devices are usable here, and why not for the others")
    bench = sub.add_parser("bench", help="offline batch-1 latency of models (first inference, p50/p90/p99)")
    bench.add_argument("models", nargs="*", help="artifacts or directories (default: models/)")
    bench.add_argument("-n", type=int, default=500, help="timed runs per model")
    bench.add_argument("--warmup", type=int, default=50, help="untimed runs after the first inference")
    bench.add_argument("--threads", type=int, default=1)
    bench.add_argument("--data", help="a labelled dataset (f1-brains dataset): adds MSE of v, w per model")
    bench.add_argument("--baseline", default="pilotnet.pt", help="artifact the ratios compare with")
    bench.add_argument("--markdown", help="also write the table to this file")
    bench.add_argument("--json", help="also write the raw rows to this JSON file")
    bench.add_argument("--csv", help="also write the rows to this CSV file")
    exp = sub.add_parser("export", help="write PilotNet in every format runnable here, with model cards")
    exp.add_argument("--out", required=True)
    exp.add_argument("--weights", help="PyTorch state_dict of a trained PilotNet (default: untrained)")
    exp.add_argument("--seed", type=int, default=0, help="initial-weight seed when no --weights")
    exp.add_argument("--formats", nargs="*", help="subset of formats (default: all)")
    exp.add_argument("--calibration", help="dataset directory whose frames calibrate the int8 formats")
    opt = sub.add_parser("optimize", help="every optimized variant of a trained PilotNet (TFLite, tfmot, PyTorch, "
                         "ONNX, TensorRT where possible), each with its card")
    opt.add_argument("--weights", help="PyTorch state_dict of the trained PilotNet (default: untrained)")
    opt.add_argument("--data", nargs="+", help="training dataset(s): fine-tuning (QAT, pruning, clustering) and "
                     "int8 calibration")
    opt.add_argument("--out", required=True)
    opt.add_argument("--variants", nargs="*", help="subset to build (default: all; see zoo/optimize.py)")
    opt.add_argument("--steps", type=int, default=600, help="fine-tuning batches per training recipe")
    opt.add_argument("--seed", type=int, default=0)
    pics = sub.add_parser("sim-pictures", help="write camera views and maps of every circuit (PNG)")
    pics.add_argument("--out", default="docs/sim", help="output directory (default: docs/sim)")
    simb = sub.add_parser("sim-bench", help="simulator speed: renderer frames/s on one core, offline laps/minute")
    simb.add_argument("--frames", type=int, default=600, help="timed renders per circuit")
    simb.add_argument("--customrobots", help="a CustomRobots checkout: also time its real meshes (pyrender)")
    simb.add_argument("--markdown", help="also write the table to this file")
    simb.add_argument("--json", help="also write the raw numbers to this JSON file")
    wi = sub.add_parser("world-import", help="measure CustomRobots' F1 worlds (red line, walls, spawn) into the "
                        "simulator's circuit data")
    wi.add_argument("customrobots", help="a CustomRobots checkout (or its f1/ or f1/worlds/ folder)")
    wi.add_argument("--out", help="directory for <circuit>.json (default: the package's sim/circuit_data)")
    wi.add_argument("--circuits", nargs="*", help="subset (default: all five)")
    fid = sub.add_parser("fidelity", help="our built-in worlds against CustomRobots' real meshes: camera views "
                         "(red-line and wall IoU), perfect-lap bags, the explicit brain's laps")
    fid.add_argument("customrobots", help="a CustomRobots checkout (or its f1/ or f1/worlds/ folder)")
    fid.add_argument("--bags", help="folder of BehaviorMetrics' perfect-lap bags (lap-<circuit>.bag)")
    fid.add_argument("--out", default="docs/results/fidelity", help="folder for pictures and fidelity.json")
    fid.add_argument("--markdown", help="the report (default: OUT.md)")
    fid.add_argument("--poses", type=int, default=50, help="camera poses compared per circuit")
    fid.add_argument("--seed", type=int, default=0)
    fid.add_argument("--circuits", nargs="*", help="subset (default: all five)")
    fid.add_argument("--no-laps", action="store_true", help="skip the explicit brain's laps")
    ev = sub.add_parser("evaluate", help="closed-loop runs of brains on circuits, headless, in parallel")
    ev.add_argument("--brains", nargs="+", default=["explicit"], help="brain names, or all")
    ev.add_argument("--circuits", nargs="+", default=["all"], help="circuit names or points files, or all")
    ev.add_argument("--modes", nargs="+", default=["lockstep"], choices=["lockstep", "realtime"])
    ev.add_argument("--laps", type=int, default=1)
    ev.add_argument("--repeats", type=int, default=1)
    ev.add_argument("--timeout", type=float, default=600.0, help="sim seconds per run")
    ev.add_argument("--jobs", type=int, default=1, help="runs in parallel, each with its own ROS master")
    ev.add_argument("--out", default="out/evaluate",
                    help="run directory (finished runs are reused); gets results.md, .csv, .json and plots/")
    ev.add_argument("--markdown", help="also write results.md to this file (its plots copied to <stem>_plots/)")
    ev.add_argument("--json", help="also write results.json to this file")
    ds = sub.add_parser("dataset", help="record frames + expert (v, w) labels by driving the explicit brain")
    ds.add_argument("--out", required=True)
    ds.add_argument("--circuits", nargs="+", default=["simple_circuit", "many_curves", "nurburgring"])
    ds.add_argument("--laps", type=int, default=2, help="laps per circuit (alternating direction)")
    ds.add_argument("--seed", type=int, default=0)
    ds.add_argument("--no-disturbance", action="store_true", help="record the expert undisturbed")
    tr = sub.add_parser("train", help="train PilotNet on datasets; writes weights, card and history")
    tr.add_argument("--data", nargs="+", required=True, help="dataset directories")
    tr.add_argument("--out", required=True)
    tr.add_argument("--epochs", type=int, default=8)
    tr.add_argument("--batch", type=int, default=64)
    tr.add_argument("--lr", type=float, default=1e-3)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--val-laps", type=int, default=2, help="whole laps held out for validation")
    tr.add_argument("--threads", type=int, default=2)
    rep = sub.add_parser("report", help="results table and plots of recorded runs (run.json files)")
    rep.add_argument("runs", nargs="+", help="run.json files (frames.csv beside each)")
    rep.add_argument("--out", help="directory for the plots (default: report/ beside the first run)")
    rep.add_argument("--markdown", help="also write the table to this file")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {"info": cmd_info, "bench": cmd_bench, "export": cmd_export, "optimize": cmd_optimize,
               "sim-pictures": cmd_sim_pictures, "sim-bench": cmd_sim_bench, "evaluate": cmd_evaluate,
               "world-import": cmd_world_import, "fidelity": cmd_fidelity,
               "report": cmd_report, "dataset": cmd_dataset, "train": cmd_train}[args.command]
    try:
        return handler(args)
    except F1BrainsError as e:
        print(f"f1-brains {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
