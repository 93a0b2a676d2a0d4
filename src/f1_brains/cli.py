"""`f1-brains <command>`: info, bench, dataset, train, export, optimize, evaluate, report, sim-pictures, sim-bench,
world-import, fidelity."""
from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path
from typing import Any

from .errors import F1BrainsError
from .util import paths
from .util.host import versions


def cmd_info(args: argparse.Namespace) -> int:
    if args.model:
        return info_model(args)
    from .core.backends import BACKENDS
    print(f"host: {platform.node()}, {platform.machine()}, Python {platform.python_version()}")
    print("packages: " + ", ".join(f"{k} {v}" for k, v in versions().items()))
    print(f"{'backend':16s} {'usable':6s}  devices / reason")
    usable_any = False
    for name, cls in BACKENDS.items():
        reason = cls.unavailable_reason()
        if reason is None:
            usable_any = True
            accelerators = cls.usable_accelerators()
            print(f"{name:16s} {'yes':6s}  {', '.join(cls.usable_devices())}"
                  + (f" (accelerators: {', '.join(accelerators)})" if accelerators else ""))
        else:
            print(f"{name:16s} {'no':6s}  {reason}")
    return 0 if usable_any else 1


def info_model(args: argparse.Namespace) -> int:
    """What one artifact is and how it will run: kind, backend, card (and where it came from), warnings."""
    import yaml

    from .core.brain import Brain, BrainSpec
    from .errors import ConfigError
    options = {}
    for option in args.option or ():
        key, sep, value = option.partition("=")
        if not sep or not key:
            raise ConfigError(f"--option {option!r}: expected KEY=VALUE, e.g. batchnorm=eval")
        options[key] = yaml.safe_load(value)   # numbers and booleans as such (streams=2, pinning=true)
    spec = BrainSpec(name=Path(args.model).stem, model=args.model, backend=args.backend, card=args.card, warmup=0,
                     options=options)
    brain = Brain.from_spec(spec)
    about, card = brain.describe(), brain.card
    i, o = card.input, card.output
    print(f"model: {about['artifact']}")
    print(f"kind: {about.get('artifact_kind', about['backend'])}; backend {about['backend']} on {about['device']}")
    print(f"network input: {about['input']['shape']} {about['input']['dtype']}, output: {about['output']['shape']} "
          f"{about['output']['dtype']}")
    print(f"card: {card.name}, from {card.provenance.get('card_source', '?')}")
    print(f"  camera {i.camera_width}x{i.camera_height}, rows {i.crop_rows[0]}:{i.crop_rows[1]} -> {i.height} rows x "
          f"{i.width} columns ({i.interpolation}), {i.color}, {i.normalization}"
          f"{' (in the network: it takes the pixels)' if i.dtype == 'uint8' else ''}, {i.layout}"
          f"{f' {i.space_to_depth}x{i.space_to_depth} blocks' if i.space_to_depth > 1 else ''} {card.input_shape} {i.dtype}")
    ranges = ", ".join(f"{k} {lo:g}..{hi:g}" for k, (lo, hi) in o.ranges.items())
    print(f"  outputs {', '.join(o.names)}: " + (f"normalized over {ranges}" if o.normalized else "m/s, rad/s"))
    for note in card.provenance.get("notes", ()):
        print(f"  note: {note}")
    for warning in about.get("warnings", ()):
        print(f"warning: {warning}")
    print(f"first inference: {about['first_inference_ms']:.1f} ms")
    if args.layers:
        print_layer_times(brain, args.layers)
    return 0


def print_layer_times(brain: "Brain", runs: int) -> None:  # noqa: F821
    """Median time per executed layer over ``runs`` inferences of synthetic road frames (backends that can say)."""
    import numpy as np

    from .core.synthetic import road_frames
    from .errors import ConfigError
    from .util.tables import markdown_table
    if not hasattr(brain.backend, "layer_times"):
        raise ConfigError(f"--layers: backend {brain.backend.name} does not report per-layer times (openvino does)")
    inputs = [brain.card.preprocess(f) for f in road_frames(8, seed=3)]
    samples: dict[tuple[str, str, str], list[float]] = {}
    for k in range(runs):
        brain.backend.predict(inputs[k % len(inputs)])
        for name, kind, kernel, us in brain.backend.layer_times():
            samples.setdefault((name, kind, kernel), []).append(us)
    rows = [[name, kind, kernel, f"{np.median(us):.0f}"] for (name, kind, kernel), us in samples.items()]
    total = sum(np.median(us) for us in samples.values())
    print(f"\nlayers executed, median over {runs} inferences (profiling on):")
    print(markdown_table(["layer", "type", "kernel", "us"], rows + [["total", "", "", f"{total:.0f}"]]), end="")


def cmd_bench(args: argparse.Namespace) -> int:
    from .errors import ConfigError
    from .zoo import bench
    artifacts = bench.model_artifacts(args.models or [str(paths.package_root() / "models")])
    if not artifacts:
        print("bench: no models with cards found (f1-brains export writes them)", file=sys.stderr)
        return 1
    if args.one_process:
        if len(args.threads) != 1:
            raise ConfigError("--one-process times one thread count: give --threads one number")
        rows = bench.run(bench.bench_entries(artifacts), args.n, args.warmup, args.threads[0], args.data)
    else:
        from .zoo import bench_isolated
        rows = bench_isolated.run(bench.bench_entries(artifacts), args.n, args.warmup, args.threads, args.data,
                                  args.passes, args.baseline)
    if not rows:
        return 1
    command = this_command("f1-brains bench")
    table = bench.markdown(rows, command, args.baseline)
    print(table)
    write_outputs(args, table, {"command": command, "versions": versions(), "rows": rows})
    if args.csv:
        bench.write_csv(rows, args.csv)
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


def cmd_export(args: argparse.Namespace) -> int:
    from .zoo import export, train
    model, provenance, trained = train.load_pilotnet(args.weights, args.seed)
    pixels = None
    if args.calibration:
        from .zoo import dataset
        pixels = dataset.load(args.calibration)[0]
        provenance["int8_calibration"] = f"256 frames of {args.calibration}"
    paths_written = export.export_all(model, args.out, args.formats or export.FORMATS, provenance,
                                      trained=trained, calibration_pixels=pixels)
    for fmt, path in paths_written.items():
        print(f"{fmt:20s} {path}")
    return 0


def cmd_optimize(args: argparse.Namespace) -> int:
    from .zoo import optimize, train
    from .zoo.finetune import TuningSet
    names = args.variants or list(optimize.ALL)
    try:
        if args.keras:
            report = optimize.optimize_keras(args.keras, args.out, names, args.data, args.steps, args.seed,
                                             {"data": [str(d) for d in args.data or ()]})
        else:
            model, provenance, trained = train.load_pilotnet(args.weights, args.seed)
            data = None
            if args.data:
                data = TuningSet.load(args.data, trained.output, trained.input)
                provenance["data"] = [str(d) for d in args.data]
            report = optimize.optimize(model, args.out, names, data, args.steps, args.seed, provenance, trained)
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
    from .worlds.circuits import DATA_DIR
    from .worlds.import_circuits import format_summaries, import_circuits
    out = Path(args.out) if args.out else DATA_DIR
    summaries = import_circuits(args.customrobots, out, args.circuits)
    print(format_summaries(summaries))
    print(f"written: {', '.join(str(out / (s['circuit'] + '.json')) for s in summaries)}")
    return 0


def cmd_fidelity(args: argparse.Namespace) -> int:
    from .ros.recorder import load_reference
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


def matrix_names(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """--brains and --circuits, "all" meaning every brains/*.yaml and the five built-in circuits (with others
    beside it: e.g. --circuits all my_track.txt)."""
    from .worlds.circuits import CIRCUITS
    brains = sorted(p.stem for p in paths.brains_dir().glob("*.yaml")) if args.brains == ["all"] else args.brains
    circuits = [c for name in args.circuits for c in (CIRCUITS if name == "all" else [name])]
    return brains, list(dict.fromkeys(circuits))


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluate.runs import Interrupted, RunSpec, evaluate
    from .results import aggregate
    from .util.files import write_json_atomic
    from .core.conditions import Condition
    from .evaluate.reuse import restore
    brains, circuits = matrix_names(args)
    conditions = [str(Condition.parse(c)) for c in args.conditions]   # refused here, before any run
    specs = [RunSpec(b, c, m, args.laps, r, args.timeout, k, args.vary_appearance) for b in brains for c in circuits
             for m in args.modes for k in conditions for r in range(args.repeats)]
    if args.reuse:   # so is a --reuse file that is not an evaluate's results
        print(restore(specs, args.out, args.reuse, args.retry_failed).line(args.reuse), file=sys.stderr)
    engine = None
    if args.ray:
        from .evaluate.ray_engine import RayEngine   # a cluster that is not there fails here, before any run
        engine = RayEngine(args.ray, args.jobs, args.cpus_per_run, args.retries)
    import signal

    def stop(signum: int, frame: object) -> None:   # Ctrl-C, kill, a job scheduler: runs stopped, marked interrupted
        raise KeyboardInterrupt
    # Set explicitly: a matrix started in a shell's background inherits SIGINT ignored, and `kill -INT` must stop it.
    previous = {number: signal.signal(number, stop) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        results = evaluate(specs, args.out, args.jobs, retry_failed=args.retry_failed, engine=engine)
    except Interrupted as e:
        print(f"f1-brains evaluate: {e}", file=sys.stderr)
        return 130
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    text, data = aggregate.write(results, args.out, this_command("f1-brains evaluate"), args.markdown)
    print(text)
    print(f"written: {Path(args.out) / 'results.md'}, results.csv, results.json, plots/")
    if args.json:
        write_json_atomic(args.json, data)
    return 0 if all(r["completed"] for r in results) else 1


def cmd_laps(args: argparse.Namespace) -> int:
    from .evaluate import offline_laps
    brains, circuits = matrix_names(args)
    earlier = offline_laps.earlier_table(args.update) if args.update else None   # checked before any lap
    rows = offline_laps.drive_all(brains, circuits, range(args.seeds), [ms / 1e3 for ms in args.latency_ms],
                                  jobs=args.jobs)
    ok = all(r["completed"] for r in rows)
    command = this_command("f1-brains laps")
    if earlier:   # these laps replace the same laps of an earlier table (e.g. after rebuilding some brains)
        rows, command = offline_laps.merge_runs(earlier["runs"], rows), f"{earlier['command']}, then {command}"
    groups = offline_laps.summary(rows)
    table = offline_laps.markdown(groups, command)
    print(table)
    write_outputs(args, table, {"command": command, "versions": versions(), "runs": rows, "groups": groups})
    return 0 if ok else 1


def cmd_headline(args: argparse.Namespace) -> int:
    from .errors import ConfigError
    from .results.headline import headline
    from .util.files import read_json
    try:
        loaded = {key: read_json(path) if path else None for key, path in
                  (("bench", args.bench), ("laps", args.laps), ("latency", args.latency_laps))}
        closed_loop = [read_json(path) for path in args.closed_loop]
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read a results file: {e}") from None
    brains, _ = matrix_names(argparse.Namespace(brains=args.brains, circuits=[]))
    try:
        table = headline(brains, loaded["bench"], loaded["laps"], loaded["latency"], closed_loop)
    except (KeyError, StopIteration, TypeError) as e:
        raise ConfigError(f"a results file is not what its option names (bench, laps, evaluate --json): {e!r}") from None
    print(table, end="")
    if args.markdown:
        Path(args.markdown).write_text(table)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .results.report import report
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
    manifest = dataset.collect(args.out, args.circuits, args.laps, args.seed, disturb=not args.no_disturbance,
                               latencies=[ms / 1000 for ms in args.latency_ms])
    print(f"{manifest['frames']} frames in {args.out}; laps: " + ", ".join(f"{k}: {v}" for k, v in manifest["lap_ends"].items()))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .zoo import train
    result = train.train(args.data, args.out, args.epochs, args.batch, args.lr, args.seed, args.val, args.threads,
                         val_dirs=args.val_data)
    print(f"best validation MSE (normalized) {result['best_val_mse_normalized']:.5f}; weights in {args.out}")
    return 0


def _latency_ms(text: str) -> float:
    """A command latency in ms (argparse type): a number >= 0."""
    try:
        ms = float(text)
    except ValueError:
        ms = float("nan")
    if not ms >= 0:   # also refuses nan
        raise argparse.ArgumentTypeError(f"a latency is milliseconds >= 0, not {text!r}")
    return ms


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="f1-brains", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="which backends and devices are usable here, and why not for the others; "
                          "with MODEL: what that artifact is and how it runs (kind, card, warnings)")
    info.add_argument("model", nargs="?", help="an artifact (.pth, .ckpt, .tflite, .h5, .onnx, SavedModel, ...)")
    info.add_argument("--backend", help="force a backend (default: chosen by the artifact)")
    info.add_argument("--card", help="a card file or preset name (default: the card beside it, else a preset)")
    info.add_argument("--option", action="append", metavar="KEY=VALUE", help="backend option, e.g. batchnorm=eval")
    info.add_argument("--layers", type=int, metavar="N", default=0,
                      help="time N inferences layer by layer (OpenVINO: needs --option profile=true)")
    bench = sub.add_parser("bench", help="offline batch-1 latency of models (first inference, p50/p90/p99)")
    bench.add_argument("models", nargs="*", help="artifacts or directories (default: models/)")
    bench.add_argument("-n", type=int, default=500, help="timed runs per model")
    bench.add_argument("--warmup", type=int, default=50, help="untimed runs after the first inference")
    bench.add_argument("--threads", type=int, nargs="+", default=[1], help="thread counts, each timed (e.g. 1 2)")
    bench.add_argument("--passes", type=int, default=3, help="passes over the models, their order rotating")
    bench.add_argument("--one-process", action="store_true", help="all models in this process, timed in "
                       "interleaved turns (quicker; thread pools of different libraries then share the cores)")
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
    source = opt.add_mutually_exclusive_group()
    source.add_argument("--weights", help="PilotNet weights: f1-brains train's state_dict, or DeepLearningStudio's "
                        "(.pth/.ckpt state_dict, TorchScript .pth) (default: untrained)")
    source.add_argument("--keras", help="DeepLearningStudio's own TF PilotNet (.h5): its TFLite and tfmot variants")
    opt.add_argument("--data", nargs="+", help="training dataset(s): fine-tuning (QAT, pruning, clustering) and "
                     "int8 calibration; ours or DeepLearningStudio folders (whole frames, needed with --keras)")
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
    wi.add_argument("--out", help="directory for <circuit>.json (default: the package's worlds/circuit_data)")
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
    ev.add_argument("--circuits", nargs="+", default=["all"],
                    help="circuit names, points files or .world files; all: the five built-in ones (default)")
    ev.add_argument("--modes", nargs="+", default=["lockstep"], choices=["lockstep", "realtime"])
    ev.add_argument("--laps", type=int, default=1)
    ev.add_argument("--repeats", type=int, default=1, help="runs per cell (a condition's seed is the repeat)")
    ev.add_argument("--vary-appearance", action="store_true", help="repeat N sees the world's colours and lighting "
                    "varied with seed N (built-in circuits and points files), so lockstep repeats differ")
    ev.add_argument("--conditions", nargs="+", default=["none"], metavar="FAMILY:LEVEL",
                    help="stress conditions, each a column of the matrix: none, on the camera noise:SIGMA (1-64), "
                         "blur:SIGMA (0.5-8), jpeg:QUALITY (5-95), dim:FACTOR (0.1-0.95), drop:P (0.05-0.9), on its "
                         "mount yaw:DEG (0.5-45, left), pitch:DEG (0.5-25, down), height:CM (0.5-10, up), in the "
                         "world sun:DEG (5-180, the sun turned), on the command path latency:MS (10-500) and "
                         "speed:SCALE (1.05-3, the car faster than its commands)")
    ev.add_argument("--timeout", type=float, default=600.0, help="sim seconds per run")
    ev.add_argument("--jobs", type=int, default=1, help="runs in parallel, each with its own ROS master on a free "
                    "port (with --ray and no address: the local Ray's CPUs)")
    ev.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                    help="run on Ray: no address starts one here; 'auto' or HOST:PORT joins a running cluster")
    ev.add_argument("--cpus-per-run", type=float, default=1.0, help="with --ray: CPUs a run asks of its node")
    ev.add_argument("--retries", type=int, default=1, help="with --ray: reruns of a run that failed to start")
    ev.add_argument("--retry-failed", action="store_true",
                    help="also rerun finished runs that did not complete their laps (failed and interrupted runs "
                         "always rerun)")
    ev.add_argument("--out", default="out/evaluate",
                    help="run directory (finished runs are reused while their brain's spec, model and card are "
                         "unchanged); gets results.md, .csv, .json and plots/")
    ev.add_argument("--markdown", help="also write results.md to this file (its plots copied to <stem>_plots/)")
    ev.add_argument("--json", help="also write results.json to this file")
    ev.add_argument("--reuse", nargs="+", default=[], metavar="RESULTS_JSON",
                    help="results of earlier evaluates (results.json or --json files, e.g. another session's or "
                         "machine's) that stand for this matrix's runs while their brains are unchanged: only the "
                         "runs they lack run")
    ds = sub.add_parser("dataset", help="record frames + expert (v, w) labels by driving the explicit brain")
    ds.add_argument("--out", required=True)
    ds.add_argument("--circuits", nargs="+", default=["simple_circuit", "many_curves", "nurburgring"])
    ds.add_argument("--laps", type=int, default=2, help="laps per circuit (alternating direction)")
    ds.add_argument("--seed", type=int, default=0)
    ds.add_argument("--no-disturbance", action="store_true", help="record the expert undisturbed")
    ds.add_argument("--latency-ms", nargs="+", type=_latency_ms, default=[20.0], metavar="MS",
                    help="command latency per lap, in turn (lap k: the k-th modulo the list): e.g. 20 70 120 records "
                         "the states a slow command path visits, labelled with the expert's decisions there")
    tr = sub.add_parser("train", help="train PilotNet on datasets; writes weights, card and history")
    tr.add_argument("--data", nargs="+", required=True, help="dataset directories: f1-brains dataset's, or "
                    "DeepLearningStudio's (<n>.png frames + data.csv)")
    tr.add_argument("--out", required=True)
    tr.add_argument("--epochs", type=int, default=8)
    tr.add_argument("--batch", type=int, default=64)
    tr.add_argument("--lr", type=float, default=1e-3)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--val", default="laps:2", help="validation split of --data: laps:N (N whole laps or DLS folders), "
                    "groups:A,B (by name, or circuit), fraction:F (the last F of each lap/folder); default laps:2")
    tr.add_argument("--val-data", nargs="+", help="validation datasets of their own (instead of --val)")
    tr.add_argument("--threads", type=int, default=2)
    laps = sub.add_parser("laps", help="quick closed loop without ROS: brains x circuits x appearance seeds in "
                                        "lockstep, against the explicit brain")
    laps.add_argument("--brains", nargs="+", default=["all"], help="brain names, YAMLs or artifacts (default: all)")
    laps.add_argument("--circuits", nargs="+", default=["all"],
                      help="circuit names, points files or .world files; all: the five built-in ones (default)")
    laps.add_argument("--seeds", type=int, default=1, help="appearance seeds per cell (0 = the world's own look)")
    laps.add_argument("--latency-ms", type=_latency_ms, nargs="+", default=[20.0], metavar="MS",
                      help="command latencies: each lap's commands land this long after their frame (default 20)")
    laps.add_argument("--jobs", type=int, default=1, help="brains driven at once, one process each (default 1)")
    laps.add_argument("--update", metavar="JSON",
                      help="an earlier --json file: its laps, with those driven now replaced, make the table")
    laps.add_argument("--markdown", help="also write the table here")
    laps.add_argument("--json", help="also write every lap here")
    head = sub.add_parser("headline", help="the README's headline table, joined from the --json files of bench, laps "
                                           "and evaluate")
    head.add_argument("--brains", nargs="+", default=["all"], help="brain names (default: all)")
    head.add_argument("--bench", required=True, help="`f1-brains bench --json` file (make bench: docs/results/offline.json)")
    head.add_argument("--laps", required=True, help="`f1-brains laps --json` file")
    head.add_argument("--latency-laps", help="another `f1-brains laps --json` file, of laps under command latency")
    head.add_argument("--closed-loop", nargs="*", default=[], help="`f1-brains evaluate --json` files: ROS runs completed")
    head.add_argument("--markdown", help="also write the table here")
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
               "laps": cmd_laps, "headline": cmd_headline, "report": cmd_report, "dataset": cmd_dataset, "train": cmd_train}[args.command]
    try:
        return handler(args)
    except F1BrainsError as e:
        print(f"f1-brains {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
