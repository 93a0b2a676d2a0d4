"""`f1-brains evaluate`'s results over the matrix: DIR/results.md, results.csv, results.json and plots/.

Runs are grouped per (brain, circuit, mode) over their repeats and shown with `f1-brains report`'s columns
(report.COLUMNS, from the brain node's run.json); a ranking per mode has one row per brain over all circuits.
"""
from __future__ import annotations

import csv
import io
import os
import shutil
import statistics
import time
from pathlib import Path
from typing import Any, Callable

from ..util.files import write_json_atomic
from ..util.tables import markdown_table
from . import robustness
from .report import COLUMNS, cells, fmt, save

SPEC = ("brain", "circuit", "mode", "condition", "repeat", "laps")
SEEDS = ("average_speed", "deviation_mae_m", "bm_deviation_mae", "frequency_rt", "inference_mean_ms",
         "inference_p50_ms", "inference_p99_ms", "latency_p99_ms", "real_time_factor", "frames_skipped", "lap_seconds")
CSV_COLUMNS = (*SPEC, "backend", "completed", "end_reason", *SEEDS, "frames_received", "frames_processed",
               "frames_faults", "deviation_max_m", "sim_time_s", "wall_time_s")
WORST = ("inference_p99_ms", "latency_p99_ms")   # tails: the worst repeat, not the median


def flat(result: dict[str, Any]) -> dict[str, Any]:
    """One run as CSV_COLUMNS: evaluate's result with its "recorded" run.json columns (None where absent)."""
    rec, frames = result.get("recorded") or {}, result.get("frames") or {}
    row = {k: result.get(k) for k in CSV_COLUMNS}
    row.update({k: rec.get(k) for k in SEEDS}, brain=Path(str(result["brain"])).stem,
               circuit=Path(str(result["circuit"])).stem, completed=bool(result.get("completed")),
               frames_received=frames.get("received"), frames_processed=frames.get("processed"),
               frames_faults=frames.get("faults"), deviation_max_m=rec.get("deviation_max_m"))
    if row["frames_skipped"] is None:
        row["frames_skipped"] = frames.get("skipped")
    row["condition"] = row["condition"] or "none"
    if row["condition"] != "none":   # tables group and rank per mode: a condition is a mode of its own there
        row["mode"] = f"{row['mode']} {row['condition']}"
    return row


def _values(rows: list[dict], key: str) -> list[float]:
    return [r[key] for r in rows if r.get(key) is not None]


def _or_none(fn: Callable[[list[float]], float], values: list[float]) -> float | None:
    return fn(values) if values else None


def summarize_repeats(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The repeats of one (brain, circuit, mode), flat rows: medians over the repeats that completed (all
    repeats when none did), worst p99s over the same repeats, frames skipped summed over all repeats."""
    done = [r for r in runs if r["completed"]]
    pool, first = done or runs, runs[0]
    backend = next((r["backend"] for r in runs if r.get("backend")), None)
    group = {k: first[k] for k in ("brain", "circuit", "mode", "condition")}
    group.update({k: _or_none(max if k in WORST else statistics.median, _values(pool, k)) for k in SEEDS})
    reasons = list(dict.fromkeys(str(r["end_reason"]) for r in runs if not r["completed"]))
    group.update(backend=backend, method=f"{group['brain']} ({backend}) {group['circuit']} {group['mode']}",
                 runs=len(runs), completed_runs=len(done), failures=reasons,
                 frames_skipped=_or_none(sum, _values(runs, "frames_skipped")),
                 lap_seconds=_or_none(statistics.median, _values(done, "lap_seconds")))
    return group


def groups(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keyed: dict[tuple, list[dict]] = {}
    for row in map(flat, results):
        keyed.setdefault((row["brain"], row["circuit"], row["mode"]), []).append(row)
    return [summarize_repeats(runs) for runs in keyed.values()]


RANKING_RULE = ("Sorted by completion rate (higher first), then mean deviation MAE (lower first), "
                "then mean average speed (higher first).")


def ranking(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (mode, brain): runs completed / runs over all circuits; means of the per-circuit speed and
    deviation over the circuits completed at least once (None when none: a car that never finished a lap,
    or never moved, has no comparable deviation); worst inference p99, lowest frequency."""
    keyed: dict[tuple, list[dict]] = {}
    for g in groups:
        keyed.setdefault((g["mode"], g["brain"]), []).append(g)
    rows = []
    for (mode, brain), gs in keyed.items():
        done = [g for g in gs if g["completed_runs"]]
        rows.append({"mode": mode, "brain": brain, "backend": gs[0]["backend"],
                     "completed_runs": sum(g["completed_runs"] for g in gs), "runs": sum(g["runs"] for g in gs),
                     "circuits": len(gs), "average_speed": _or_none(statistics.mean, _values(done, "average_speed")),
                     "deviation_mae_m": _or_none(statistics.mean, _values(done, "deviation_mae_m")),
                     "inference_p99_ms": _or_none(max, _values(gs, "inference_p99_ms")),
                     "frequency_rt": _or_none(min, _values(gs, "frequency_rt"))})
    modes = list(dict.fromkeys(g["mode"] for g in groups))
    inf = float("inf")
    rows.sort(key=lambda r: (modes.index(r["mode"]), -r["completed_runs"] / r["runs"],
                             inf if r["deviation_mae_m"] is None else r["deviation_mae_m"],
                             inf if r["average_speed"] is None else -r["average_speed"]))
    for mode in modes:
        for rank, r in enumerate((r for r in rows if r["mode"] == mode), 1):
            r["rank"] = rank
    return rows


def completion(g: dict[str, Any]) -> str:
    """'k/n' with the median lap time and the reasons of the runs that did not complete."""
    notes = ([f"{g['lap_seconds']:.1f} s"] if g["lap_seconds"] is not None else []) + g["failures"]
    return f"{g['completed_runs']}/{g['runs']}" + (f" ({'; '.join(notes)})" if notes else "")


def runs_table(results: list[dict[str, Any]]) -> str:
    """Every run: how it ended, its first complete lap (else the whole run) from run.json, the frame counts."""
    numbers = (("lap_seconds", ".1f"), ("average_speed", ".2f"), ("deviation_mae_m", ".3f"), ("deviation_max_m", ".3f"))
    rows = []
    for r in results:
        f, rec = r.get("frames") or {}, r.get("recorded") or {}
        rows.append([Path(str(r["brain"])).stem, Path(str(r["circuit"])).stem, flat(r)["mode"],
                     str(r.get("repeat", 0)),
                     str(r["end_reason"]), *(fmt(rec.get(k), spec) for k, spec in numbers),
                     f"{f.get('processed', '-')} / {f.get('skipped', '-')}", fmt(r.get("inference_p50_ms"), ".3f")])
    return markdown_table(["brain", "circuit", "mode", "repeat", "result", "lap time s", "avg speed m/s",
                           "deviation MAE m", "deviation max m", "frames processed / skipped", "inference p50 ms"],
                          rows)


def markdown(results: list[dict], gs: list[dict], rank: list[dict], command: str, plots: list[str]) -> str:
    """results.md; ``plots``: paths of the pictures relative to the markdown file."""
    count = lambda key: len({flat(r)[key] for r in results})  # noqa: E731
    repeats = max((int(r.get("repeat", 0)) + 1 for r in results), default=0)
    out = [f"Made by `{command}` on this {os.cpu_count()}-core machine, {time.strftime('%Y-%m-%d', time.gmtime())}: "
           f"{len(results)} runs (brains x circuits x modes x repeats: {count('brain')} x {count('circuit')} x "
           f"{count('mode')} x {repeats}).", ""]
    for mode in dict.fromkeys(g["mode"] for g in gs):
        rows = [[str(r["rank"]), f"{r['brain']} ({r['backend']})", f"{r['completed_runs']}/{r['runs']}",
                 fmt(r["average_speed"], ".2f"), fmt(r["deviation_mae_m"], ".3f"), fmt(r["inference_p99_ms"], ".3f"),
                 fmt(r["frequency_rt"], ".1f")] for r in rank if r["mode"] == mode]
        out += [f"## Ranking, {mode}", "",
                "One row per brain over all circuits: runs that completed their laps / runs; means over the circuits "
                "it completed at least once ('-' when none) of the per-circuit numbers below; the worst "
                f"inference p99 and the lowest iteration frequency over all circuits. {RANKING_RULE}", "",
                markdown_table(["Rank", "Brain (backend)", "Runs completed", "Mean average speed (m/s)",
                                "Mean position deviation MAE (m)", "Worst inference p99 (ms)",
                                "Min brain iteration frequency (RT, Hz)"], rows)]
    if any((r.get("condition") or "none") != "none" for r in results):
        out += [robustness.markdown(results, next((p for p in plots if Path(p).stem == "robustness"), None)), ""]
    out += ["## Per brain and circuit", "",
            "`f1-brains report`'s columns (the brain node's run.json: first complete lap, else the whole run; see "
            "docs/lap_statistics.md) over each brain, circuit and mode's repeats: medians over the repeats that "
            "completed their laps (over all repeats when none did); p99 columns: the worst of those repeats; frames "
            "skipped: total over all repeats; last column: repeats completed / repeats (median lap time; why the "
            "others ended). '-': not recorded.", "",
            markdown_table(["Method", *COLUMNS, "Frames skipped", "Laps completed"],
                           [[g["method"], *cells(g), fmt(g["frames_skipped"], ".0f"), completion(g)] for g in gs])]
    pictures = [f"![{Path(p).stem}]({p})" for p in plots if Path(p).stem != "robustness"]
    if pictures:   # a matrix without the plain world has only the robustness picture, shown above
        out += ["## Plots", "", *pictures, ""]
    out += ["## Runs", "", "The simulator's lap (offsets from the circuit's centre line, m) and the brain node's "
            "frame counts, per run.", "", runs_table(results)]
    return "\n".join(out)


def file_label(mode: str) -> str:
    """'lockstep noise:8' -> 'lockstep_noise8': a file name without spaces or colons."""
    return mode.replace(" ", "_").replace(":", "")


def plots(gs: list[dict[str, Any]], rank: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """Per mode: a brain x circuit heatmap (runs completed, deviation) and per-brain bars (p99, frequency)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    written = []
    for mode in dict.fromkeys(g["mode"] for g in gs):
        ranked = [r for r in rank if r["mode"] == mode]
        brains, circuits = [r["brain"] for r in ranked], list(dict.fromkeys(g["circuit"] for g in gs if g["mode"] == mode))
        dev = np.full((len(brains), len(circuits)), np.nan)
        fig, ax = plt.subplots(figsize=(1.5 * len(circuits) + 3.5, 0.45 * len(brains) + 2))
        for g in (g for g in gs if g["mode"] == mode):
            i, j = brains.index(g["brain"]), circuits.index(g["circuit"])
            if g["completed_runs"] and g["deviation_mae_m"] is not None:
                dev[i, j] = g["deviation_mae_m"]
            ax.text(j, i, f"{g['completed_runs']}/{g['runs']}\n{fmt(g['deviation_mae_m'], '.3f')}",
                    ha="center", va="center", fontsize=8)
        cmap = plt.get_cmap("YlGn_r").copy()
        cmap.set_bad("#f2a0a0")
        finite = dev[np.isfinite(dev)]
        im = ax.imshow(np.ma.masked_invalid(dev), cmap=cmap, aspect="auto", vmin=0,
                       vmax=float(finite.max()) * 1.5 if finite.size and finite.max() > 0 else 0.1)
        fig.colorbar(im, ax=ax, label="position deviation MAE (m)")
        ax.set_xticks(range(len(circuits)), circuits, rotation=30, ha="right")
        ax.set_yticks(range(len(brains)), brains)
        ax.set_title(f"{mode}: runs completed / runs and deviation MAE (red: none completed)")
        written.append(save(fig, out_dir / f"heatmap_{file_label(mode)}.png"))

        columns = (("inference_p99_ms", "worst inference p99 (ms)"), ("frequency_rt", "min iteration frequency (RT, Hz)"))
        fig, axes = plt.subplots(1, len(columns), figsize=(10, 0.45 * len(brains) + 1.8))
        colors = ["tab:green" if r["completed_runs"] == r["runs"] else "tab:red" for r in ranked]
        for ax, (key, title) in zip(axes, columns):
            ax.barh(brains, [r[key] or 0.0 for r in ranked], color=colors)
            ax.set_title(title)
            ax.invert_yaxis()
        axes[1].set_yticklabels([])
        fig.suptitle(f"{mode}, ranking order; green: every run completed, red: not every run")
        written.append(save(fig, out_dir / f"bars_{file_label(mode)}.png"))
    return written


def csv_text(results: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in flat(r).items()} for r in results)
    return buffer.getvalue()


def write(results: list[dict[str, Any]], out_dir: str | Path, command: str,
          also_markdown: str | Path | None = None) -> tuple[str, dict[str, Any]]:
    """DIR/results.md, .csv, .json and plots/; with ``also_markdown``, that file too, its plots copied beside
    it into <stem>_plots/. Returns results.md's text and results.json's data."""
    out_dir = Path(out_dir)
    gs = groups(results)
    rank = ranking(gs)
    pictures = plots([g for g in gs if g["condition"] == "none"], rank, out_dir / "plots")   # stress: robustness.png
    stressed = any((r.get("condition") or "none") != "none" for r in results)
    if stressed:
        pictures.append(robustness.heatmap(results, out_dir / "plots" / "robustness.png"))
    data = {"command": command, "ranking": rank, "groups": gs, "results": results,
            **({"robustness": robustness.margins(results), "robustness_per_circuit": robustness.per_circuit(results),
                "against_float_parent": robustness.against_float_parents(results)} if stressed else {})}
    write_json_atomic(out_dir / "results.json", data)
    (out_dir / "results.csv").write_text(csv_text(results))
    text = markdown(results, gs, rank, command, [f"plots/{p.name}" for p in pictures])
    (out_dir / "results.md").write_text(text)
    if also_markdown:
        path = Path(also_markdown)
        copies = path.parent / f"{path.stem}_plots"
        copies.mkdir(parents=True, exist_ok=True)
        for p in pictures:
            shutil.copy(p, copies / p.name)
        path.write_text(markdown(results, gs, rank, command, [f"{copies.name}/{p.name}" for p in pictures]))
    return text, data
