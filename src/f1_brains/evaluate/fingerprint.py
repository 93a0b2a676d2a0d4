"""What a brain drives with, as one hash: a cached evaluate result counts only while its brain is unchanged."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from ..core.brain import BrainSpec
from ..core.model_card import card_path_for
from ..util import paths

COMPANIONS = {".xml": (".bin",)}   # files an artifact reads beside itself (OpenVINO IR: its weights)


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
