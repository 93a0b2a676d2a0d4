"""Robustness margins of a stress matrix (evaluate --conditions): per brain and condition family, the strongest
level at which it still completes its laps, and a brains x conditions picture of completion."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.conditions import Condition
from ..util.tables import markdown_table
from . import float_parent


def _parse(condition: str) -> Condition:
    return Condition.parse(condition)


def completion(results: list[dict[str, Any]]) -> dict[tuple[str, str, str], tuple[int, int]]:
    """(brain, mode, condition) -> (runs that completed their laps, runs), over circuits and repeats."""
    cells: dict[tuple[str, str, str], list[int]] = {}
    for r in results:
        key = (Path(str(r["brain"])).stem, r["mode"], r.get("condition") or "none")
        cell = cells.setdefault(key, [0, 0])
        cell[0] += bool(r.get("completed"))
        cell[1] += 1
    return {k: (done, runs) for k, (done, runs) in cells.items()}


def margins(results: list[dict[str, Any]], required: float = 1.0) -> list[dict[str, Any]]:
    """Per (brain, mode): for each family, the harshest level L such that the world as it is and every milder level
    of the family kept at least ``required`` of its runs completing; None when the plain world already did not, or
    the mildest level. Lower levels are the harsher ones for jpeg (quality) and dim (brightness)."""
    cells = completion(results)
    conditions = [_parse(c) for c in conditions_of(results) if c != "none"]   # mild to harsh
    families = sorted({c.family for c in conditions})
    rows = []
    for brain, mode in dict.fromkeys((b, m) for (b, m, _) in cells):
        row: dict[str, Any] = {"brain": brain, "mode": mode}
        done, runs = cells.get((brain, mode, "none"), (0, 0))
        base_ok = runs == 0 or done >= required * runs
        for family in families:
            tried = [c for c in conditions if c.family == family and (brain, mode, str(c)) in cells]
            best = None
            for condition in tried if base_ok else ():
                done, runs = cells[(brain, mode, str(condition))]
                if done < required * runs:
                    break
                best = condition.level
            row[family] = {"margin": best, "levels": [c.level for c in tried]}
        rows.append(row)
    return rows


def per_circuit(results: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """margins() of each circuit's runs alone: circuit (its name, or a world/points file's stem) -> rows."""
    circuits: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        circuits.setdefault(Path(str(r["circuit"])).stem, []).append(r)
    return {circuit: margins(runs) for circuit, runs in circuits.items()}


def per_circuit_markdown(by_circuit: dict[str, list[dict[str, Any]]], families: list[str]) -> str:
    """One row per (brain, mode), one column per family; each cell the circuits' margins in the header's order."""
    circuits = list(by_circuit)
    found = {c: {(r["brain"], r["mode"]): r for r in rows} for c, rows in by_circuit.items()}

    def cell(circuit: str, key: tuple[str, str], family: str) -> str:
        row = found[circuit].get(key)
        if row is None or family not in row or not row[family]["levels"]:   # the brain ran no level of it there
            return "n/a"
        margin = row[family]["margin"]
        return "-" if margin is None else f"{margin:g}"
    keys = list(dict.fromkeys(k for rows in found.values() for k in rows))
    table = [[brain, mode, *(" / ".join(cell(c, (brain, mode), f) for c in circuits) for f in families)]
             for brain, mode in keys]
    return "\n".join(["### Per circuit", "",
                      f"The same margins from each circuit's runs alone, in the order {' / '.join(circuits)} ('n/a': "
                      "not run there): where a brain's margin over all circuits comes from.", "",
                      markdown_table(["brain", "mode", *families], table).rstrip("\n")])


def against_float_parents(results: list[dict[str, Any]], rows: list[dict[str, Any]] | None = None) -> list[dict]:
    """Each optimized brain's margins (``rows``, default margins(results)) against its float parent's."""
    return float_parent.against_parents(margins(results) if rows is None else rows, float_parent.float_parents(results))


def conditions_of(results: list[dict[str, Any]]) -> list[str]:
    """The matrix's conditions, none first, then by family and growing strength."""
    found = {r.get("condition") or "none" for r in results}
    return sorted(found, key=lambda c: _parse(c).strength)


def markdown(results: list[dict[str, Any]], picture: str | None) -> str:
    rows = margins(results)
    families = [k for k in rows[0] if k not in ("brain", "mode")] if rows else []

    def held(r: dict[str, Any]) -> int:   # levels held over all families: the ranking
        return sum(float_parent.levels_held(r[f]["margin"], r[f]["levels"]) for f in families)
    tried = sum(len(rows[0][f]["levels"]) for f in families) if rows else 0
    table = [[r["brain"], r["mode"], *(("-" if r[f]["margin"] is None else f"{r[f]['margin']:g}") +
                                       f" (of {', '.join(f'{v:g}' for v in r[f]['levels'])})" for f in families),
              f"{held(r)} of {tried}"] for r in sorted(rows, key=held, reverse=True)]
    lines = ["## Robustness", "",
             "Per brain: for each condition family, the harshest level at which every run (all circuits and repeats) "
             "still completed its laps, the plain world and every weaker level included ('-': not even the plain "
             "world, or not the mildest level). Levels listed mild to harsh (jpeg quality and dim brightness: lower is "
             "harsher). Ranked by the levels held over all families.", "",
             markdown_table(["brain", "mode", *families, "levels held"], table).rstrip("\n")]
    by_circuit = per_circuit(results)
    if len(by_circuit) > 1:
        lines += ["", per_circuit_markdown(by_circuit, families)]
    comparisons = against_float_parents(results, rows)
    if comparisons:
        lines += ["", float_parent.markdown(comparisons)]
    if picture:
        lines += ["", f"![robustness]({picture})"]
    return "\n".join(lines)


def heatmap(results: list[dict[str, Any]], path: Path) -> Path:
    """Brains x conditions (per mode), each cell runs completed / runs, coloured by the fraction."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    cells = completion(results)
    columns = conditions_of(results)
    rows = list(dict.fromkeys((b, m) for (b, m, _) in cells))
    share = np.full((len(rows), len(columns)), np.nan)
    fig, ax = plt.subplots(figsize=(1.1 * len(columns) + 3.5, 0.45 * len(rows) + 2))
    for i, (brain, mode) in enumerate(rows):
        for j, condition in enumerate(columns):
            if (brain, mode, condition) in cells:
                done, runs = cells[(brain, mode, condition)]
                share[i, j] = done / runs
                ax.text(j, i, f"{done}/{runs}", ha="center", va="center", fontsize=8)
    im = ax.imshow(np.ma.masked_invalid(share), cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    fig.colorbar(im, ax=ax, label="runs completed (share)")
    ax.set_xticks(range(len(columns)), columns, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), [f"{b} ({m})" for b, m in rows])
    ax.set_title("Runs completed under each condition")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
