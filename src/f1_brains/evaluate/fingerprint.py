"""What a brain drives with, as one hash: a cached evaluate result counts only while its brain is unchanged."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..core.brain import BrainSpec
from ..core.model_card import card_path_for
from ..util import paths

COMPANIONS = {".xml": (".bin",)}   # files an artifact reads beside itself (OpenVINO IR: its weights)


# Files a run writes once, when it ends (result.json is rewritten when older results gain columns).
RUN_END_FILES = ("run.json", "sim_summary.json", "result.json")


@dataclass(frozen=True)
class BrainVersion:
    fingerprint: str     # brain_fingerprint
    changed_at: float    # when the newest of its files (spec, model, card) was last modified, s since the epoch

    def made(self, result: dict[str, Any], run_dir: Path) -> bool:
        """Whether this version of the brain made a saved result: the fingerprint it records is this one. A result
        from before fingerprints counts while none of the brain's files changed after its run ended."""
        recorded = result.get("brain_fingerprint")
        if recorded is not None:
            return recorded == self.fingerprint
        ended = next((run_dir / name for name in RUN_END_FILES if (run_dir / name).is_file()), None)
        return ended is not None and ended.stat().st_mtime >= self.changed_at


def brain_version(name_or_path: str) -> BrainVersion:
    """The brain's fingerprint and the time its files last changed. Raises ConfigError for an unknown brain."""
    spec = BrainSpec.load(name_or_path)
    files = [BrainSpec.file_of(name_or_path), *_files(spec)]
    return BrainVersion(brain_fingerprint(name_or_path),
                        max(path.stat().st_mtime for path in files if path.exists()))


def brain_fingerprint(name_or_path: str) -> str:
    """sha256 over the brain's spec (every key but its description) and the bytes of its model (each file of a
    directory, an IR's .bin) and card. Raises ConfigError for an unknown brain."""
    spec = BrainSpec.load(name_or_path)
    digest = hashlib.sha256(json.dumps({k: v for k, v in asdict(spec).items() if k != "description"},
                                       sort_keys=True, default=str).encode())
    for path in _files(spec):
        digest.update(path.name.encode())
        digest.update(path.read_bytes() if path.is_file() else b"(missing)")
    return digest.hexdigest()


def _files(spec: BrainSpec) -> list[Path]:
    if spec.type != "network":
        return []
    model = paths.resolve(spec.model)
    files = sorted(p for p in model.rglob("*") if p.is_file()) if model.is_dir() else \
        [model, *(model.with_suffix(s) for s in COMPANIONS.get(model.suffix, ()))]
    card = paths.resolve(spec.card) if spec.card else card_path_for(model)
    return files + ([card] if card.suffix in (".yaml", ".yml") else [])
