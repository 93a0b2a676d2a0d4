"""Latency summaries: percentiles in milliseconds (p50/p90/p99), never a bare mean."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .tables import markdown_table

STAT_KEYS = ("n", "mean_ms", "p50_ms", "p90_ms", "p99_ms", "max_ms")


def summarize(seconds: Sequence[float]) -> dict[str, float]:
    """n, mean, p50, p90, p99 and max (ms) of durations given in seconds; NaN stats when empty."""
    x = np.asarray(seconds, dtype=np.float64) * 1e3
    if x.size == 0:
        return {"n": 0, **{k: float("nan") for k in STAT_KEYS[1:]}}
    p50, p90, p99 = np.percentile(x, [50, 90, 99])
    return {"n": int(x.size), "mean_ms": float(x.mean()), "p50_ms": float(p50), "p90_ms": float(p90),
            "p99_ms": float(p99), "max_ms": float(x.max())}


def format_table(rows: dict[str, dict[str, float]], first_column: str = "stage") -> str:
    """A Markdown table, one row per named summary."""
    return markdown_table([first_column, "n", "mean ms", "p50 ms", "p90 ms", "p99 ms", "max ms"],
                          [[name, s["n"], *(f"{s[k]:.3f}" for k in STAT_KEYS[1:])] for name, s in rows.items()]
                          ).rstrip("\n")
