"""Results of an earlier evaluate (its results.json, or the file of its --json) standing for runs of this matrix, so
a matrix can span sessions and machines: keep the file, pass it with --reuse, and only the runs it lacks run.

A result stands for a run when it is that run (same brain, circuit, mode, condition, repeat, laps, timeout and
look), it may be reused by the cache rule (runs.reusable) and it records the fingerprint of the brain as it is now
(a result without one cannot be checked and is refused). It is written as OUT/<run>/result.json, marked with the
file it came from; a run OUT already has a result for that would be reused keeps its own.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..util.files import read_json, write_json_atomic
from .fingerprint import brain_version
from .runs import RunSpec, reusable, status_of

SPEC_FIELDS = tuple(f.name for f in fields(RunSpec))


@dataclass
class Reused:
    """What --reuse did: results written into OUT, and results of this matrix's runs refused, by reason."""
    written: int = 0
    kept: int = 0   # OUT had a reusable result of its own
    refused: Counter = field(default_factory=Counter)

    def line(self, files: list[str]) -> str:
        why = "; ".join(f"{n} {reason}" for reason, n in sorted(self.refused.items()))
        return (f"--reuse {' '.join(files)}: {self.written} result(s) stand for their runs"
                + (f", {self.kept} already in the output directory" if self.kept else "")
                + (f"; refused: {why}" if why else ""))


def load_results(path: str | Path) -> list[dict[str, Any]]:
    """The results of an evaluate's results.json (or --json file). Raises ConfigError for anything else."""
    try:
        data = read_json(path)
    except (OSError, ValueError) as e:
        raise ConfigError(f"--reuse: cannot read {path}: {e}") from None
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        raise ConfigError(f"--reuse: {path} is not the results.json of an f1-brains evaluate (no 'results' runs)")
    return results


def spec_of(result: dict[str, Any]) -> RunSpec | None:
    """The run a result is of; None for a result written before runs had all of RunSpec's fields."""
    if not set(SPEC_FIELDS) <= set(result):
        return None
    return RunSpec(**{name: result[name] for name in SPEC_FIELDS})


def restore(specs: list[RunSpec], out_root: str | Path, files: list[str], retry_failed: bool = False) -> Reused:
    """Write the results of ``files`` that stand for runs of ``specs`` into ``out_root``, before evaluate runs the
    matrix (all files are read first: a bad one raises ConfigError before anything is written)."""
    loaded = [(str(path), load_results(path)) for path in files]
    versions = {brain: brain_version(brain) for brain in {s.brain for s in specs}}
    wanted = {s.key: s for s in specs}
    out_root, done, written = Path(out_root), Reused(), set()
    for path, results in loaded:
        for result in results:
            spec = spec_of(result)
            if spec is None:
                done.refused["older than RunSpec's fields"] += 1
                continue
            if wanted.get(spec.key) != spec or spec.key in written:
                continue   # another matrix's run, or one an earlier file stood for
            target, version = out_root / spec.key / "result.json", versions[spec.brain]
            own = read_json(target) if target.is_file() else None
            if own is not None and reusable(own, retry_failed) and version.made(own, target.parent):
                done.kept += 1
                continue
            if not reusable(result, retry_failed):
                status = status_of(result)
                done.refused[status if status != "finished" else "not completed (--retry-failed)"] += 1
            elif result.get("brain_fingerprint") is None:
                done.refused["without a brain fingerprint (cannot be checked)"] += 1
            elif result["brain_fingerprint"] != version.fingerprint:
                done.refused["made by another version of their brain"] += 1
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                write_json_atomic(target, {**result, "reused_from": path})
                written.add(spec.key)
                done.written += 1
    return done
