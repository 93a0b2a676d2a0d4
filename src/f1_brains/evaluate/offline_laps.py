"""`f1-brains laps`: brains x circuits x command latencies x appearance seeds driven in lockstep without ROS
(sim/offline.py; the field renderer, or a CustomRobots ``.world``'s real meshes), a few seconds a lap, one brain per
process: the quick closed-loop check before `f1-brains evaluate` runs the same brains through the ROS nodes. Each lap's time, speed and deviation are set against the explicit brain's."""
from __future__ import annotations

import multiprocessing
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable, Iterable

from ..core.brain import BrainSpec, brain_from_spec
from ..errors import ConfigError, F1BrainsError
from ..sim import offline
from ..sim.renderer import Appearance
from ..sim.renderer_process import RendererProcess
from ..sim.simulation import RunLimits
from ..util.files import read_json
from ..util.tables import markdown_table
from ..worlds import circuits

REFERENCE = "explicit"


def spec_for(brain: str) -> BrainSpec:
    """A brain name, a brain YAML, or an artifact path (its card beside it)."""
    if Path(brain).suffix in (".yaml", ".yml") or ("/" not in brain and Path(brain).suffix == ""):
        return BrainSpec.load(brain)
    return BrainSpec.from_dict({"name": Path(brain).name, "model": brain}, source=f"artifact {brain}")


def drive_one(brain: Any, circuit: str, seed: int, latency: float = offline.LATENCY) -> dict[str, Any]:
    """One lap (or the run's end) of ``brain`` on ``circuit``, its commands landing ``latency`` s after their frame;
    seed 0 is the world's own look, others vary it. A
    CustomRobots ``.world`` is drawn from its real meshes (sim/mesh_renderer.py, drawn in a child process), where the seed has no effect."""
    track = circuits.load(circuit)
    appearance = Appearance() if seed == 0 else Appearance.varied(seed)
    renderer = RendererProcess(circuit) if Path(circuit).suffix == ".world" else None
    t0 = time.perf_counter()
    try:
        sim = offline.drive(track, brain, RunLimits(laps=1, timeout=track.length / 3.0), latency=latency,
                            appearance=appearance, renderer=renderer)
    finally:
        if renderer is not None:
            renderer.close()
    summary = sim.summary()
    lap = summary["laps"][0] if summary["laps"] else None
    return {"circuit": track.name, "latency_ms": round(latency * 1e3), "seed": seed,
            "end_reason": summary["end_reason"], "completed": lap is not None,
            "lap_time_s": lap["lap_time"] if lap else None,
            "average_speed": lap["distance"] / lap["lap_time"] if lap else None,
            "mae_m": lap["mean_abs_offset"] if lap else None, "max_m": lap["max_abs_offset"] if lap else None,
            "progress_m": summary["progress_m"], "wall_s": time.perf_counter() - t0}


def _brain_laps(name: str, circuit_names: list[str], latencies: list[float], seeds: list[int],
                on_lap: Callable[[int], Any] = lambda n: None) -> list[dict[str, Any]]:
    """Every lap of one brain (circuit x latency x seed), or one row saying why it could not load."""
    try:
        spec = spec_for(name)
        brain = brain_from_spec(spec)
    except F1BrainsError as e:
        on_lap(len(circuit_names) * len(latencies) * len(seeds))
        return [{"brain": name, "circuit": "-", "latency_ms": None, "seed": None,
                 "end_reason": f"not loaded: {e}", "completed": False}]
    rows = []
    for circuit in circuit_names:
        for latency in latencies:
            for seed in seeds:
                rows.append({"brain": spec.name, **drive_one(brain, circuit, seed, latency)})
                on_lap(1)
    return rows


def drive_all(brains: Iterable[str], circuit_names: Iterable[str], seeds: Iterable[int],
              latencies: Iterable[float] = (offline.LATENCY,), progress: bool = True,
              jobs: int = 1) -> list[dict[str, Any]]:
    """Every brain (the explicit one first, as the reference) on every circuit, latency (s) and seed; a brain that
    cannot load gets one row saying why. ``jobs`` > 1 drives that many brains at once, each in its own process
    (spawned: no framework state shared); the rows come back in the same order either way."""
    from tqdm import tqdm
    names = list(dict.fromkeys([REFERENCE, *brains]))
    cells = (list(circuit_names), list(latencies), list(seeds))
    with tqdm(total=len(names) * len(cells[0]) * len(cells[1]) * len(cells[2]), desc="laps", unit="lap", file=sys.stderr, disable=not progress) as bar:
        if jobs <= 1:
            return [row for name in names for row in _brain_laps(name, *cells, bar.update)]
        spawn = multiprocessing.get_context("spawn")
        with spawn.Manager() as manager, ProcessPoolExecutor(max_workers=jobs, mp_context=spawn) as pool:
            laps_done = manager.Queue()   # one item per lap driven, from any worker: the bar moves lap by lap
            futures = [pool.submit(_brain_laps, name, *cells, laps_done.put) for name in names]
            pending = set(futures)
            while pending:
                _, pending = wait(pending, timeout=0.5)
                while not laps_done.empty():
                    bar.update(laps_done.get())
            return [row for future in futures for row in future.result()]   # a worker's error raises here


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _range(values: list[float]) -> list[float] | None:
    return [min(values), max(values)] if values else None


def earlier_table(path: str | Path) -> dict[str, Any]:
    """A `f1-brains laps --json` file, for --update; ConfigError when it is none."""
    try:
        table = read_json(path)
        if isinstance(table["command"], str) and all({"brain", "circuit", "latency_ms", "seed"} <= set(r)
                                                      for r in table["runs"]):
            return table
    except (OSError, ValueError, KeyError, TypeError):
        pass
    raise ConfigError(f"--update {path}: not a readable `f1-brains laps --json` file")


def merge_runs(earlier: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``earlier``'s laps with each one driven again in ``new`` (same brain, circuit, latency and seed) replaced in
    place, and ``new``'s other laps after them."""
    def key(r: dict[str, Any]) -> tuple:
        return r["brain"], r["circuit"], r["latency_ms"], r["seed"]
    fresh = {key(r): r for r in new}
    merged = [fresh.pop(key(r), r) for r in earlier]
    return merged + [r for r in new if key(r) in fresh]


def summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per brain x circuit x latency over the seeds: completion, median (and range) of lap time and MAE, speed, worst max
    deviation, and the ratios of lap time and MAE to the explicit brain's on the same circuit and latency."""
    groups: dict[tuple[str, str, int | None], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["brain"], r["circuit"], r["latency_ms"]), []).append(r)
    out = []
    for (brain, circuit, latency_ms), runs in groups.items():
        done = [r for r in runs if r["completed"]]
        out.append({"brain": brain, "circuit": circuit, "latency_ms": latency_ms, "completed": len(done),
                    "runs": len(runs),
                    "lap_time_s": _median([r["lap_time_s"] for r in done]),
                    "lap_time_range": _range([r["lap_time_s"] for r in done]),
                    "average_speed": _median([r["average_speed"] for r in done]),
                    "mae_m": _median([r["mae_m"] for r in done]),
                    "mae_range": _range([r["mae_m"] for r in done]),
                    "max_m": max((r["max_m"] for r in done), default=None),
                    "failures": sorted({r["end_reason"] for r in runs if not r["completed"]})})
    reference = {(g["circuit"], g["latency_ms"]): g for g in out if g["brain"] == REFERENCE}
    for g in out:
        ref = reference.get((g["circuit"], g["latency_ms"]))
        for key in ("lap_time_s", "mae_m"):
            ok = ref is not None and g[key] is not None and ref[key]
            g[f"{key}_vs_explicit"] = g[key] / ref[key] if ok else None
    return out


def markdown(groups: list[dict[str, Any]], command: str) -> str:
    fmt = lambda v, spec: "-" if v is None else format(v, spec)  # noqa: E731

    def spread(median: float | None, bounds: list[float] | None, spec: str) -> str:   # "44.02 (43.90-44.35)"
        low, high = (format(b, spec) for b in bounds) if bounds else ("", "")
        return fmt(median, spec) if low == high else f"{median:{spec}} ({low}-{high})"

    rows = [[g["brain"], g["circuit"], fmt(g["latency_ms"], "d"),
             f"{g['completed']}/{g['runs']}" + (f" ({'; '.join(g['failures'])})" if g["failures"] else ""),
             spread(g["lap_time_s"], g.get("lap_time_range"), ".2f"), fmt(g["lap_time_s_vs_explicit"], ".3f"),
             fmt(g["average_speed"], ".2f"), spread(g["mae_m"], g.get("mae_range"), ".3f"),
             fmt(g["mae_m_vs_explicit"], ".2f"), fmt(g["max_m"], ".3f")] for g in groups]
    header = ["brain", "circuit", "latency ms", "laps completed", "lap time s: median (range)", "lap time / explicit",
              "avg speed m/s", "deviation MAE m: median (range)", "MAE / explicit", "max deviation m (worst)"]
    return (f"Measured with `{command}`: lockstep laps without ROS (field renderer; `.world` circuits: their "
            "real meshes; 20 Hz camera, each command landing its latency after its frame); per cell the median over "
            "the appearance seeds (seed 0: the world's own look) and, in brackets, their range; ratios of medians."
            "\n\n" + markdown_table(header, rows))
