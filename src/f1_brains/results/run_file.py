"""run.json and frames.csv, the brain node's record of a run: their format, reading them back, and the
seeds' summary of a run (the one lap truth that report, evaluate and aggregate all read)."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..util.files import read_json

SCHEMA_VERSION = 1   # run.json (docs/lap_statistics.md)
CSV_COLUMNS = ("lap", "t_sim", "t_wall", "x", "y", "speed", "offset_m", "v", "w", "unclamped_v", "unclamped_w",
               "inference_ms", "end_to_end_ms", "node_overhead_ms", "receive_to_command_ms")


def load_run(path: str | Path) -> dict[str, Any]:
    """A run.json, checked; ``_path`` added. Raises ConfigError when missing, not JSON or of another schema."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"run file {path} does not exist")
    try:
        data = read_json(path)
    except ValueError as e:
        raise ConfigError(f"run file {path} is not valid JSON: {e}") from None
    version = data.get("schema_version") if isinstance(data, dict) else None
    if version != SCHEMA_VERSION:
        raise ConfigError(f"run file {path} has schema version {version!r}; this f1_brains reads version {SCHEMA_VERSION}")
    for key, kind in (("metadata", dict), ("laps", list), ("run", dict)):
        if not isinstance(data.get(key), kind):
            raise ConfigError(f"run file {path}: '{key}' is missing or not a {kind.__name__}")
    data["_path"] = str(path)
    return data


def label(run: dict[str, Any]) -> str:
    m = run["metadata"]
    return f"{m.get('brain')} ({m.get('backend')}) {Path(str(m.get('circuit'))).stem} {m.get('mode') or ''}".strip()


def summary_row(run: dict[str, Any]) -> dict[str, Any]:
    """The numbers of the table: the first complete lap if any, else the whole run (frames skipped: whole run)."""
    complete = [lap for lap in run["laps"] if lap["complete"]]
    s = complete[0] if complete else run["run"]
    return {"method": label(run), "average_speed": s["average_speed"], "deviation_mae_m": s["position_deviation_mae_m"],
            "deviation_max_m": s.get("position_deviation_max_m"), "bm_deviation_mae": s.get("position_deviation_mae"),
            "frequency_rt": s["brain_iterations_frequency_real_time"], "inference_mean_ms": s["inference_time"]["mean_ms"],
            "inference_p50_ms": s["inference_time"]["p50_ms"], "inference_p99_ms": s["inference_time"]["p99_ms"],
            "latency_p99_ms": s.get("receive_to_command", {}).get("p99_ms"), "real_time_factor": s["real_time_factor"],
            "frames_skipped": run["run"].get("frames_skipped"),
            "lap_seconds": s["lap_seconds"], "completed": bool(complete), "end_reason": run.get("end_reason")}


def read_frames(run: dict[str, Any]) -> dict[str, np.ndarray]:
    """frames.csv beside a loaded run, column -> values (NaN where empty; no rows when the brain never answered).
    Raises ConfigError when missing."""
    path = Path(run["_path"]).with_name("frames.csv")
    if not path.is_file():
        raise ConfigError(f"{path} (the per-frame samples of {run['_path']}) does not exist")
    with open(path) as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        columns = reader.fieldnames or []
    to_float = lambda v: float(v) if v not in ("", "None", None) else np.nan  # noqa: E731
    return {k: np.array([to_float(r[k]) for r in rows], dtype=np.float64) for k in columns}
