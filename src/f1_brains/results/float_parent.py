"""Each optimized brain of a stress matrix set against its float parent: did the optimization cost a level?

A brain's float parent is the matrix's fp32 network brain made from the same weights (its card's provenance) on the
same runtime; PyTorch's quantized modules run on the torch_quantized backend, whose float runtime is torchscript.
Brains whose card cannot be read (a user's card-less model, the explicit brain) have none.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.brain import BrainSpec
from ..core.model_card import ModelCard, card_path_for
from ..errors import F1BrainsError
from ..util import paths
from ..util.tables import markdown_table

FLOAT_RUNTIME = {"torch_quantized": "torchscript"}   # backend -> the backend its float parent runs on


def _lineage(brain: str) -> tuple[str, str] | None:
    """(precision, weights) of a network brain from its card file; None when there is none to read."""
    try:
        spec = BrainSpec.load(brain)
        if spec.type != "network":
            return None
        card = paths.resolve(spec.card) if spec.card else card_path_for(paths.resolve(spec.model))
        loaded = ModelCard.load(card)
    except (F1BrainsError, OSError):
        return None
    weights = loaded.provenance.get("weights")
    return (loaded.precision, str(weights)) if weights else None


def float_parents(results: list[dict[str, Any]]) -> dict[str, str]:
    """Optimized brain -> its float parent among the results' brains (names as the tables write them)."""
    brains = {Path(str(r["brain"])).stem: (str(r["brain"]), r.get("backend")) for r in results}   # (spec, backend)
    lineage = {name: line for name, (brain, _) in brains.items() if (line := _lineage(brain)) is not None}
    parents = {}
    for name, (precision, weights) in lineage.items():
        if precision == "fp32":
            continue
        backend = brains[name][1]
        runtime = FLOAT_RUNTIME.get(backend, backend)
        parent = next((other for other, (p, w) in lineage.items()
                       if p == "fp32" and w == weights and brains[other][1] == runtime), None)
        if parent is not None:
            parents[name] = parent
    return parents


def levels_held(margin: float | None, levels: list[float]) -> int:
    """How many of a family's levels (mild to harsh) a margin holds: 0 for none."""
    return 0 if margin is None or margin not in levels else levels.index(margin) + 1


def markdown(comparisons: list[dict[str, Any]]) -> str:
    """The comparison as a table (families as columns) and a one-line verdict."""
    families = list(dict.fromkeys(f for c in comparisons for f in c["families"]))

    def cell(c: dict[str, Any]) -> str:
        if c["change"] == 0:
            return "="
        show = [("-" if m is None else f"{m:g}") for m in (c["margin"], c["parent_margin"])]
        return f"{c['change']:+d} ({show[0]} vs {show[1]})"
    rows = [[c["brain"], c["parent"], c["mode"], *(cell(c["families"][f]) if f in c["families"] else ""
                                                   for f in families)] for c in comparisons]
    lost = [f"{c['brain']} ({', '.join(f for f, v in c['families'].items() if v['change'] < 0)})"
            for c in comparisons if any(v["change"] < 0 for v in c["families"].values())]
    kept = len(comparisons) - len(lost)
    return "\n".join([
        "### Against the float parent", "",
        "Each optimized brain's margins against its float parent's (the fp32 brain of the same weights on the same "
        "runtime): '=' the same level; -N / +N: N levels lower / higher (its margin vs the parent's).", "",
        markdown_table(["brain", "float parent", "mode", *families], rows).rstrip("\n"), "",
        f"{kept} of {len(comparisons)} optimized brains keep their float parent's margin in every family"
        + (f"; lower: {'; '.join(lost)}." if lost else ".")])


def against_parents(rows: list[dict[str, Any]], parents: dict[str, str]) -> list[dict[str, Any]]:
    """For each (optimized brain, mode) of ``rows`` (robustness.margins) with its parent there: per family, the
    levels it lost (< 0) or gained (> 0) against the parent's margin, and both margins."""
    by_key = {(r["brain"], r["mode"]): r for r in rows}
    out = []
    for row in rows:
        parent = by_key.get((parents.get(row["brain"]), row["mode"]))
        if parent is None:
            continue
        families = {}
        for family, cell in row.items():
            if family in ("brain", "mode") or family not in parent:
                continue
            levels = cell["levels"]
            families[family] = {"change": levels_held(cell["margin"], levels)
                                - levels_held(parent[family]["margin"], levels),
                                "margin": cell["margin"], "parent_margin": parent[family]["margin"]}
        out.append({"brain": row["brain"], "mode": row["mode"], "parent": parent["brain"], "families": families})
    return out
