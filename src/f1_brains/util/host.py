"""What this run ran on: package versions, for run metadata and benchmark reports."""
from __future__ import annotations

from importlib import metadata

FRAMEWORKS = ("numpy", "tensorflow-cpu", "tensorflow", "keras", "ai-edge-litert", "torch", "onnxruntime", "onnx")


def versions() -> dict[str, str]:
    found = {}
    for name in FRAMEWORKS:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found
