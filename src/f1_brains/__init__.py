"""f1_brains: neural brains for the JdeRobot F1 car on many inference backends, with lap statistics.

The layers, from the ground up (docs/ARCHITECTURE.md; test/test_layers.py keeps every import pointing down):
``errors`` < ``util`` < ``core`` (model card, brain, backends, the explicit brain), ``worlds`` (CustomRobots' worlds,
circuits, reference lines) < ``results`` (laps, run files, report, aggregate), ``sim`` (the embedded simulator)
< ``ros`` (the nodes, the lap recorder, the BehaviorMetrics adapter) < ``zoo``, ``evaluate`` < ``cli``.

The public API is named here and imported on first use, so ``import f1_brains`` loads no framework::

    import f1_brains
    brain = f1_brains.load_brain("pilotnet_onnx")          # brains/NAME.yaml, a YAML file, or an artifact
    decision = brain.step(rgb_image)                       # Decision: v, w, timings
    track = f1_brains.load_circuit("montreal")             # a Track in Gazebo's world frame
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

from .errors import (
    BackendUnavailable,
    BadImage,
    BadOutput,
    ConfigError,
    F1BrainsError,
    ModelLoadError,
)

_LAZY = {   # public name -> (module, attribute)
    "load_brain": ("f1_brains.core.brain", "load_brain"),
    "Brain": ("f1_brains.core.brain", "Brain"),
    "BrainSpec": ("f1_brains.core.brain", "BrainSpec"),
    "ExplicitBrain": ("f1_brains.core.explicit", "ExplicitBrain"),
    "ModelCard": ("f1_brains.core.model_card", "ModelCard"),
    "Limits": ("f1_brains.core.commands", "Limits"),
    "Decision": ("f1_brains.core.commands", "Decision"),
    "load_backend": ("f1_brains.core.backends", "load_backend"),
    "BACKENDS": ("f1_brains.core.backends", "BACKENDS"),
    "CIRCUITS": ("f1_brains.worlds.circuits", "CIRCUITS"),
    "load_circuit": ("f1_brains.worlds.circuits", "load"),
    "Track": ("f1_brains.worlds.track", "Track"),
    "load_run": ("f1_brains.results.run_file", "load_run"),
}

__all__ = ["F1BrainsError", "ConfigError", "ModelLoadError", "BackendUnavailable", "BadImage", "BadOutput",
           *_LAZY]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'f1_brains' has no attribute {name!r}")
    module, attribute = _LAZY[name]
    value = getattr(import_module(module), attribute)
    globals()[name] = value   # looked up once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
