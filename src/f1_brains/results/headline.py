"""The README's headline table (`f1-brains headline`): per shipped brain, what `make bench`, `f1-brains laps` and
`f1-brains evaluate` measured, joined from their --json files, so the table is remade by a command, never by hand."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.brain import BrainSpec
from ..util.tables import markdown_table

BASELINE = "pilotnet.pt"   # the bench's reference: TorchScript fp32


def _span(values: list[float], digits: int = 3) -> str:
    if not values:
        return "-"
    low, high = f"{min(values):.{digits}f}", f"{max(values):.{digits}f}"
    return low if low == high else f"{low}-{high}"


def bench_row(spec: BrainSpec, bench: list[dict[str, Any]], threads: int = 1) -> dict[str, Any] | None:
    """The bench row of the brain's artifact as the brain runs it (OpenVINO's bf16 is a row of its own)."""
    if not spec.model:
        return None
    precision = spec.options.get("precision", "fp32")   # named as zoo.bench.BenchEntry.label names the row
    label = Path(spec.model).name + (f" [{precision}]" if precision != "fp32" else "")
    return next((r for r in bench if r["threads"] == threads and Path(r["model"]).name == label), None)


def _laps(groups: list[dict[str, Any]], brain: str) -> tuple[str, str, str]:
    """Laps completed / driven, and the spans of the per-circuit median lap time and deviation over the explicit's."""
    mine = [g for g in groups if g["brain"] == brain]
    if not mine:
        return "-", "-", "-"
    done = f"{sum(g['completed'] for g in mine)}/{sum(g['runs'] for g in mine)}"
    ratio = lambda key: _span([g[key] for g in mine if g.get(key) is not None])  # noqa: E731
    return done, ratio("lap_time_s_vs_explicit"), ratio("mae_m_vs_explicit")


def _ros(ranking: list[dict[str, Any]], brain: str) -> str:
    rows = [r for r in ranking if r["brain"] == brain]
    return f"{sum(r['completed_runs'] for r in rows)}/{sum(r['runs'] for r in rows)}" if rows else "-"


def headline(brains: list[str], bench: dict[str, Any], laps: dict[str, Any], latency: dict[str, Any] | None = None,
             closed_loop: list[dict[str, Any]] = ()) -> str:
    """One row per brain, fastest offline first: size, bench p50 at one thread and its speed-up over TorchScript fp32,
    test-set MSE over TorchScript's, lockstep laps (k/n, lap time and deviation over the explicit brain's, the span over
    circuits of the per-circuit medians), laps under command latency, and ROS runs completed per evaluate matrix."""
    rows = bench["rows"]
    base = next(r for r in rows if r["threads"] == 1 and Path(r["model"]).name == BASELINE)
    late = latency["groups"] if latency else []
    late_ms = sorted({g["latency_ms"] for g in late})
    table = []
    for name in brains:
        spec = BrainSpec.load(name)
        b = bench_row(spec, rows)
        done, times, deviations = _laps(laps["groups"], name)
        late_done, late_times, _ = _laps(late, name)
        table.append([name, f"{b['size_mb']:.1f} MB" if b else "-",
                      f"{b['p50_ms']:.3f} ms ({b.get('speedup') or base['p50_ms'] / b['p50_ms']:.1f}x)" if b else "-",
                      f"{b['mse_normalized'] / base['mse_normalized']:.2f}x" if b and "mse_normalized" in b else "-",
                      done, times, deviations, *([late_done, late_times] if late else []),
                      *[_ros(m["ranking"], name) for m in closed_loop]])
    table.sort(key=lambda r: (r[2] == "-", float(r[2].split()[0]) if r[2] != "-" else 0.0))
    modes = [", ".join(sorted({r["mode"] for r in m["ranking"]})) for m in closed_loop]
    return markdown_table(
        ["brain", "size", "offline p50, 1 thread (vs TorchScript)", "MSE vs TorchScript", "lockstep laps",
         "lap time / explicit", "deviation / explicit",
         *([f"laps at {'/'.join(f'{ms:g}' for ms in late_ms)} ms", "lap time / explicit there"] if late else []),
         *[f"ROS {mode} runs" for mode in modes]], table)
