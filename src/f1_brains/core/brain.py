"""A Brain is a model card plus a backend: camera image -> (v, w), with per-stage timings.

Nothing here knows about ROS: the node, the BehaviorMetrics module and the benchmarks all drive the
same Brain. ``BrainSpec`` is the brains/<name>.yaml file that names backend, model, device, threads
and speed limits.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import yaml

from ..errors import BadOutput, ConfigError, ModelLoadError
from ..util import paths
from .backends import Backend, LoadOptions, load_backend
from .commands import Decision, Limits
from .explicit import ExplicitBrain, ExplicitParams
from .model_card import (
    ModelCard,
    card_path_for,
    dls_preset_for,
    dls_preset_name,
    preset,
)

MAX_THREADS = 4 * (os.cpu_count() or 1)   # more is never faster; ONNX Runtime would not even finish loading
MAX_WARMUP = 10_000


@dataclass(frozen=True)
class BrainSpec:
    """brains/<name>.yaml. ``type``: network (model + backend) or explicit (the OpenCV line follower,
    tuned by ``params``). ``card``: a card file or preset name (default: the card beside the model, else
    for DeepLearningStudio's kinds of artifact their preset, see ``load_card_and_backend``)."""
    name: str
    model: str = ""
    type: str = "network"
    params: dict[str, Any] = field(default_factory=dict)
    backend: str | None = None
    card: str | None = None
    device: str = "cpu"
    threads: int = 1
    warmup: int = 10
    limits: Limits = field(default_factory=Limits)
    options: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    @staticmethod
    def file_of(name_or_path: str) -> Path:
        """The YAML file of a brain given by name (brains/<name>.yaml) or path. Raises ConfigError when there is none."""
        path = Path(name_or_path)
        if path.suffix not in (".yaml", ".yml"):
            path = paths.brains_dir() / f"{name_or_path}.yaml"
            if not path.is_file():
                known = sorted(p.stem for p in paths.brains_dir().glob("*.yaml"))
                raise ConfigError(f"unknown brain {name_or_path!r}: no {path}; known brains: {', '.join(known)}")
        if not path.is_file():
            raise ConfigError(f"brain file {path} does not exist")
        return path

    @classmethod
    def load(cls, name_or_path: str) -> "BrainSpec":
        """A brain by name (brains/<name>.yaml) or by the path of a YAML file. Raises ConfigError (unknown name,
        missing file, bad YAML or keys)."""
        path = cls.file_of(name_or_path)
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"brain file {path} is not valid YAML: {e}") from None
        return cls.from_dict({"name": path.stem, **data}, source=str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "brain spec") -> "BrainSpec":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"{source}: unknown keys {sorted(unknown)}; allowed: {sorted(known)}")
        kind = data.get("type", "network")
        if kind not in ("network", "explicit"):
            raise ConfigError(f"{source}: type must be network or explicit, not {kind!r}")
        if kind == "network" and not data.get("model"):
            raise ConfigError(f"{source}: 'model' (the artifact path) is required")
        try:
            limits = Limits(**(data.get("limits") or {}))
        except (TypeError, ConfigError) as e:
            raise ConfigError(f"{source}: {e if isinstance(e, ConfigError) else f'limits: {e}'}") from None
        try:
            return cls(**{**data, "limits": limits, "options": dict(data.get("options") or {}),
                          "params": dict(data.get("params") or {})})
        except ConfigError as e:
            raise ConfigError(f"{source}: {e}") from None

    def __post_init__(self) -> None:
        """Checked on every construction, overrides included (the node's ~threads, BM's Parameters)."""
        for name, low, high in (("threads", 0, MAX_THREADS), ("warmup", 0, MAX_WARMUP)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ConfigError(f"brain {self.name!r}: {name} must be a whole number from {low} to {high}, "
                                  f"not {value!r}")
        if not isinstance(self.limits, Limits):
            raise ConfigError(f"brain {self.name!r}: limits must be a mapping of max_v, min_v, max_w")

    def with_overrides(self, **overrides: Any) -> "BrainSpec":
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def load_options(self) -> LoadOptions:
        return LoadOptions(device=self.device, threads=self.threads, extra=tuple(self.options.items()))


CardFromBackend = Callable[[Path, Backend], ModelCard]


def load_card_and_backend(spec: BrainSpec, derive: CardFromBackend | None = None,
                          missing: str = "write a card") -> tuple[ModelCard, Backend]:
    """The one card resolver, in order: the card ``spec.card`` names (a card file or a preset name), the card beside
    the artifact, ``derive(model, backend)`` once the backend has loaded (BehaviorMetrics' preprocessing
    Parameters), else DeepLearningStudio's preset for the artifact's kind, sized from its recorded input shape.
    Raises ModelLoadError when the model is missing, ConfigError when there is no card and none can be made
    (before the slow model load when that is already known; ``missing`` says what to do), and the backend's
    ModelLoadError or BackendUnavailable."""
    model = paths.resolve(spec.model)
    if not model.exists():
        raise ModelLoadError(f"model {model} does not exist")
    card, source = None, ""
    if spec.card is not None:
        card_file = paths.resolve(spec.card)
        if card_file.suffix in (".yaml", ".yml"):
            card, source = ModelCard.load(card_file), f"card file {card_file}"
        else:
            card, source = preset(spec.card), f"preset {spec.card} (named by the brain)"
    elif card_path_for(model).is_file():
        card, source = ModelCard.load(card_path_for(model)), f"card file {card_path_for(model)}"
    elif derive is None and dls_preset_name(model) is None:
        raise ConfigError(f"model {model} has no card ({card_path_for(model)}) and is no DeepLearningStudio kind "
                          f"of artifact: {missing}")
    backend = load_backend(model, spec.backend, spec.load_options())
    if card is None and derive is not None:
        card, source = derive(model, backend), "made from the caller's parameters"
    elif card is None:
        card = dls_card_for(model, backend)
        source = f"preset {card.name} for a card-less {model.suffix or 'SavedModel'} (DeepLearningStudio's kind)" if card else ""
    if card is None:
        raise ConfigError(f"model {model} has no card ({card_path_for(model)}) and its input "
                          f"{backend.input_spec.shape} is not a 3-channel image: {missing}")
    return replace(card, provenance={**card.provenance, "card_source": source}), backend


def feeds_transposed(card: ModelCard, shape: tuple[int | None, ...] | None) -> bool:
    """Whether ``card`` feeds an NHWC network declared ``shape`` its image transposed (rows and columns swapped)."""
    expected = card.input_shape
    return (card.input.layout == "NHWC" and shape is not None and len(shape) == 4
            and tuple(shape[1:]) == (expected[2], expected[1], 3) and expected[1] != expected[2])


def dls_card_for(model: Path, backend: Backend) -> ModelCard | None:
    """DeepLearningStudio's preset for a card-less ``model`` (``dls_preset_for``). A TF file is fed as DLS trained it,
    transposed from its declaration; where its input is fixed (TF-TRT engines) it is fed as declared, and a warning
    says it is not fed as trained."""
    shape = backend.input_spec.shape
    card = dls_preset_for(model, shape)
    if card is None or not feeds_transposed(card, shape):
        return card
    try:
        backend.fit_input(card.input_shape)
        return card
    except ModelLoadError:
        backend.warnings.append(f"{backend.path}: its input is fixed to the declared {tuple(shape)}, so it is fed "
                                f"{shape[1]} rows x {shape[2]} columns as BehaviorMetrics feeds it, not the "
                                f"{shape[2]} x {shape[1]} DeepLearningStudio trained it on")
        declared = preset("dls_tf_pilotnet_bm")
        return replace(declared, input=replace(declared.input, height=shape[1], width=shape[2]))


class Brain:
    def __init__(self, card: ModelCard, backend: Backend, limits: Limits = Limits(), warmup: int = 10,
                 name: str = "") -> None:
        self.card, self.backend, self.limits, self.name = card, backend, limits, name or card.name
        self._check_shapes()
        self._check_dtype()
        self._check_input_range()
        x = np.zeros(card.input_shape, card.input.dtype)
        t0 = time.perf_counter()
        try:
            out = backend.predict(x)
        except Exception as e:  # a card that does not fit the network fails here, not on the car
            raise ModelLoadError(f"model {backend.path} rejects the input {card.input_shape} of its card "
                                 f"{card.name!r}: {str(e).strip().splitlines()[0][:200] if str(e).strip() else e!r}") from None
        self.first_inference_s = time.perf_counter() - t0
        if np.asarray(out).reshape(-1).size < 2:
            raise ModelLoadError(f"model {backend.path} returns {np.asarray(out).shape}, card expects (v, w)")
        self.warmup = warmup
        for _ in range(warmup):
            backend.predict(x)

    def _check_shapes(self) -> None:
        """The card's input must be the network's; one exception: a card that feeds the declared image transposed
        (DeepLearningStudio's TF PilotNet learned that orientation), run where the network allows it (``fit_input``)."""
        shape = self.backend.input_spec.shape
        if shape is None:
            return   # TorchScript records no shapes: the first inference checks instead
        expected = self.card.input_shape
        if len(shape) == len(expected) and all(s is None or s == e for s, e in zip(shape[1:], expected[1:])):
            return
        if feeds_transposed(self.card, shape):
            try:
                self.backend.fit_input(expected)   # warns that it runs off its declared shape
            except ModelLoadError as e:
                raise ModelLoadError(f"{e}; card {self.card.name!r} feeds the declared image transposed: a card "
                                     f"with the declared size (e.g. preset dls_tf_pilotnet_bm) runs it") from None
            return
        raise ModelLoadError(f"model card {self.card.name!r} describes input {expected}, but model "
                             f"{self.backend.path} takes {tuple(shape)} ({self.card.input.layout} layout?)")

    def _check_dtype(self) -> None:
        """A card that feeds pixels (uint8) needs a network that takes them, and a network that takes pixels (not a
        quantized input the backend fills from floats) needs such a card."""
        declared, fed = self.backend.input_spec.dtype, self.card.input.dtype
        takes_pixels = declared == "uint8" and self.backend.input_range() is None
        if (fed == "uint8") != takes_pixels and self.backend.input_spec.shape is not None:
            raise ModelLoadError(f"model card {self.card.name!r} feeds {fed} input, but model {self.backend.path} "
                                 f"takes {declared}{' pixels' if takes_pixels else ''} (input.dtype in its card?)")

    def _check_input_range(self) -> None:
        """An integer input calibrated on other values than the card feeds (DeepLearningStudio's int-only TFLite:
        calibrated on raw pixels, fed normalized ones) wastes its levels and clips: say so."""
        quantized = self.backend.input_range()
        if quantized is None:
            return
        (q0, q1), (c0, c1) = quantized, self.card.input_range()
        levels = 255 * (min(q1, c1) - max(q0, c0)) / (q1 - q0)
        if levels < 64 or (min(q1, c1) - max(q0, c0)) < 0.75 * (c1 - c0):
            self.backend.warnings.append(
                f"{self.backend.path}: its integer input represents [{q0:.3g}, {q1:.3g}], but card "
                f"{self.card.name!r} feeds {self.card.input.normalization} values in [{c0:.3g}, {c1:.3g}]: "
                f"{max(levels, 0):.0f} of 256 levels used, the rest clipped (calibrated on other inputs than it is "
                f"fed, as DeepLearningStudio's int-only TFLite is on raw pixels)")

    @classmethod
    def from_spec(cls, spec: BrainSpec) -> "Brain":
        """Raises ConfigError (no card), ModelLoadError (the model or its fit to the card), BackendUnavailable."""
        card, backend = load_card_and_backend(spec)
        return cls(card, backend, spec.limits, spec.warmup, spec.name)

    @classmethod
    def load(cls, name_or_path: str, **overrides: Any) -> "Brain":
        """A network brain by name or YAML path; raises as ``BrainSpec.load`` and ``from_spec``."""
        return cls.from_spec(BrainSpec.load(name_or_path).with_overrides(**overrides))

    def step(self, image: np.ndarray, encoding: str = "rgb8") -> Decision:
        """Raises BadImage, BadOutput or the backend's error; the caller decides how to stop safely."""
        t0 = time.perf_counter()
        x = self.card.preprocess(image, encoding)
        t1 = time.perf_counter()
        raw = self.backend.predict(x)
        t2 = time.perf_counter()
        if raw.shape[0] != 1:
            raise BadOutput(f"model {self.backend.path} returned batch {raw.shape[0]} for one image")
        v, w = self.card.postprocess(raw[0])
        cv, cw = self.limits.clamp(v, w)
        return Decision(cv, cw, v, w, t1 - t0, t2 - t1, time.perf_counter() - t2)

    def rehearse(self, image: np.ndarray, encoding: str = "rgb8") -> None:
        """Preprocess and run the network on a frame already answered, the result thrown away: called just before
        the next frame is due, it finds the weights, code and core warm (ros/frame_clock.py). Raises as ``step``."""
        self.backend.predict(self.card.preprocess(image, encoding))

    def describe(self) -> dict[str, Any]:
        return {"brain": self.name, **self.backend.describe(), "card": self.card.to_dict(),
                "limits": self.limits.__dict__, "first_inference_ms": self.first_inference_s * 1e3,
                "warmup": self.warmup}


def load_brain(name_or_path: str, **overrides: Any) -> Brain | ExplicitBrain:
    """Any brain by name or YAML path: a network Brain, or the explicit line follower. Raises ConfigError
    (unknown brain, bad YAML, no card), ModelLoadError, BackendUnavailable (a device or backend missing here)."""
    return brain_from_spec(BrainSpec.load(name_or_path).with_overrides(**overrides))


def brain_from_spec(spec: BrainSpec) -> Brain | ExplicitBrain:
    if spec.type == "explicit":
        return ExplicitBrain(ExplicitParams.from_dict(spec.params, spec.name), spec.limits, spec.name)
    return Brain.from_spec(spec)
