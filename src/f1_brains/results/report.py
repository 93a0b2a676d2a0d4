"""`f1-brains report`: the seeds' results table for runs, and pictures of them.

Per run (run.json with frames.csv beside it): the trajectory over the circuit coloured by deviation,
speed along the run, and latency histograms. Across several runs: bar charts of the table's columns.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..util.tables import markdown_table
from ..worlds import circuits
from .run_file import label, load_run, read_frames, summary_row

# The seeds' columns, shared by this table and `f1-brains evaluate`'s aggregated tables (summary_row's keys).
COLUMNS = ("Average speed (m/s)", "Position deviation MAE (m)", "BM position deviation MAE",
           "Brain iteration frequency (RT, Hz)", "Inference p50 / p99 (ms)", "Frame to command p99 (ms)",
           "Real time factor")


def fmt(value: Any, spec: str) -> str:
    """A number formatted, or '-' when missing (None or NaN)."""
    return "-" if value is None or (isinstance(value, float) and np.isnan(value)) else format(value, spec)


def cells(r: dict[str, Any]) -> list[str]:
    """COLUMNS of one row with summary_row's keys."""
    return [fmt(r["average_speed"], ".2f"), fmt(r["deviation_mae_m"], ".3f"), fmt(r["bm_deviation_mae"], ".2f"),
            fmt(r["frequency_rt"], ".1f"), f"{fmt(r['inference_p50_ms'], '.3f')} / {fmt(r['inference_p99_ms'], '.3f')}",
            fmt(r["latency_p99_ms"], ".3f"), fmt(r["real_time_factor"], ".2f")]


def table(runs: list[dict[str, Any]]) -> str:
    rows = list(map(summary_row, runs))
    lap = lambda r: f"Yes ({r['lap_seconds']:.1f} s)" if r["completed"] else f"No ({r['end_reason']})"  # noqa: E731
    return markdown_table(["Method", *COLUMNS, "Lap completed"], [[r["method"], *cells(r), lap(r)] for r in rows])


def plot_run(run: dict[str, Any], out_dir: Path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frames, name = read_frames(run), Path(run["_path"]).parent.name or "run"
    if not frames.get("x", np.empty(0)).size:
        return []   # no frame was processed (a brain that never answered): the table says so, nothing to draw
    meta = run["metadata"]
    written = []
    try:
        reference = circuits.load(str(meta.get("circuit", "")))
    except ConfigError:
        reference = None   # e.g. a perfect-lap bag that is not on this machine: plot the trajectory alone

    fig, ax = plt.subplots(figsize=(9, 6))
    if reference is not None:
        ax.plot(*np.vstack([reference.points, reference.points[:1]]).T, color="0.3", lw=0.8, label="reference line")
    dev = np.abs(frames["offset_m"])
    sc = ax.scatter(frames["x"], frames["y"], c=dev, cmap="plasma", s=7, vmin=0, vmax=max(float(np.nanmax(dev)), 0.05))
    fig.colorbar(sc, ax=ax, label="distance to the reference line (m)")
    ax.set_aspect("equal")
    ax.set(title=f"{label(run)}: trajectory", xlabel="x (m)", ylabel="y (m)")
    ax.legend(loc="upper right")
    written.append(save(fig, out_dir / f"{name}_trajectory.png"))

    fig, ax = plt.subplots(figsize=(9, 3.5))
    xy = np.column_stack([frames["x"], frames["y"]])
    along = np.concatenate([[0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
    ax.plot(along, frames["speed"], lw=1, label="speed (odometry)")
    ax.plot(along, frames["v"], lw=1, alpha=0.7, label="commanded v")
    ax.set(title=f"{label(run)}: speed along the run", xlabel="distance driven (m)", ylabel="m/s")
    ax.legend()
    written.append(save(fig, out_dir / f"{name}_speed.png"))

    fig, ax = plt.subplots(figsize=(9, 3.5))
    # End-to-end from the image stamp is in sim time here (0 in lockstep, 10 ms steps in realtime): the wall
    # clock from the image's arrival to the command is the latency the node can measure honestly.
    kinds = (("inference_ms", "inference"), ("node_overhead_ms", "node overhead"),
             ("receive_to_command_ms", "image received -> command (wall)"))
    for key, text in kinds:
        if key not in frames:
            continue
        values = frames[key][np.isfinite(frames[key])]
        if values.size:
            ax.hist(values, bins=60, alpha=0.6, label=f"{text}: p50 {np.median(values):.3f} ms")
    ax.set(title=f"{label(run)}: latency per frame", xlabel="ms", ylabel="frames")
    ax.set_yscale("log")
    ax.legend()
    written.append(save(fig, out_dir / f"{name}_latency.png"))
    return written


def plot_comparison(runs: list[dict[str, Any]], out_dir: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = [summary_row(r) for r in runs]
    columns = (("average_speed", "average speed (m/s)"), ("deviation_mae_m", "deviation MAE (m)"),
               ("frequency_rt", "iteration frequency (Hz)"), ("inference_p50_ms", "inference p50 (ms)"))
    fig, axes = plt.subplots(1, len(columns), figsize=(4 * len(columns), 0.5 * len(rows) + 2.5))
    for ax, (key, title) in zip(axes, columns):
        values = [r[key] if r[key] is not None else 0.0 for r in rows]
        ax.barh([r["method"] for r in rows], values, color=["tab:green" if r["completed"] else "tab:red" for r in rows])
        ax.set_title(title)
        ax.invert_yaxis()
    for ax in axes[1:]:
        ax.set_yticklabels([])
    fig.suptitle("green: lap completed, red: not completed")
    return save(fig, out_dir / "comparison.png")


def save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def report(paths: list[str], out_dir: str | Path | None = None) -> tuple[str, list[Path]]:
    runs = [load_run(p) for p in paths]
    out = Path(out_dir) if out_dir else Path(runs[0]["_path"]).parent / "report"
    written = [p for run in runs for p in plot_run(run, out)]
    if len(runs) > 1:
        written.append(plot_comparison(runs, out))
    return table(runs), written
