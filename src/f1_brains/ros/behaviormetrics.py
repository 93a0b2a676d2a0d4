"""BehaviorMetrics (BM) brains served by our backends, model cards and limits.

BM loads ``brains/gazebo/f1/<file>.py``, constructs its ``Brain(sensors, actuators, model=..., handler=...,
config=...)`` (``model``: ``Parameters.Model``; ``config``: the other ``Parameters``) and calls ``execute()``
every PilotTimeCycle ms. brains/brain_f1_brains.py is that file; the logic lives here so it is tested like
the rest of the package. docs/behaviormetrics.md maps BM's parameters, paths and metrics onto ours.

``Model`` is one of our brains (``pilotnet_onnx``: brains/pilotnet_onnx.yaml, backend/device/limits and all),
a brain YAML path, or an artifact (absolute, under BM's models directories, or under this package). The card
is, in order: ``Card`` (file or preset), the card beside the artifact, a card built from BM's preprocessing
Parameters (``card_from_parameters``), a DeepLearningStudio preset (``model_card.dls_preset_for``).
"""
from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..core.backends import Backend
from ..core.backends.base import is_gpu
from ..core.explicit import ExplicitBrain
from ..core.brain import (
    Brain,
    BrainSpec,
    Limits,
    brain_from_spec,
    load_card_and_backend,
)
from ..core.model_card import (
    DLS_RANGES,
    InputSpec,
    ModelCard,
    OutputSpec,
    card_path_for,
    dls_preset_for,
)
from ..errors import ConfigError, ModelLoadError
from ..util import paths

log = logging.getLogger(__name__)

# BM's preprocessing keys (BM's torch brain spells the crop flag ImageCrop, its TF brains ImageCropped).
CARD_KEYS = ("ImageCropped", "ImageCrop", "ImageSize", "ImageNormalized", "PredictionsNormalized")
# Read too: GPU (device), UseOptimized (accepted: the artifact picks the backend); ours: Card, Backend.
KNOWN_KEYS = CARD_KEYS + ("GPU", "UseOptimized", "Card", "Backend")
CAMERA_SHAPE = (480, 640, 3)
LOG_EVERY_S = 2.0


def card_from_parameters(params: Mapping[str, Any], base: ModelCard) -> ModelCard:
    """BM's preprocessing Parameters applied to ``base`` (a DLS preset, or a card for the artifact's layout):
    ImageCropped/ImageCrop: rows 240:480 or the whole frame; ImageSize [W, H]: the network size;
    ImageNormalized: true = ImageNet mean/std, false = raw 0..255 (NHWC, BM's TF brains) or [0, 1] (NCHW,
    ToTensor in BM's torch brains); PredictionsNormalized: outputs in [0, 1] over DLS's label ranges."""
    inp, out = base.input, base.output
    crop = params.get("ImageCropped", params.get("ImageCrop"))
    if crop is not None:
        inp = dataclasses.replace(inp, crop_rows=(240, 480) if bool(crop) else (0, 480))
    if "ImageSize" in params:
        size = params["ImageSize"]
        if not (isinstance(size, (list, tuple)) and len(size) == 2 and all(isinstance(s, int) and s > 0 for s in size)):
            raise ConfigError(f"BehaviorMetrics Parameters.ImageSize must be [width, height], not {size!r}")
        inp = dataclasses.replace(inp, width=size[0], height=size[1])
    if "ImageNormalized" in params:
        normalization = "imagenet" if params["ImageNormalized"] else ("unit" if inp.layout == "NCHW" else "none")
        inp = dataclasses.replace(inp, normalization=normalization)
    if "PredictionsNormalized" in params:
        out = OutputSpec(normalized=bool(params["PredictionsNormalized"]), ranges=dict(DLS_RANGES))
    used = {k: params[k] for k in CARD_KEYS if k in params}
    return dataclasses.replace(base, name=f"{base.name}+bm_parameters", input=inp, output=out,
                               provenance={**base.provenance, "behaviormetrics_parameters": used})


def bm_model_dirs(brain_file: str | Path, cwd: Path | None = None) -> list[Path]:
    """Where BM keeps models, seen from a brain module at <BM>/brains/gazebo/f1/<file>.py and from BM's
    working directory: models/ and its gazebo/torch_models, gazebo/tf_models (those that exist)."""
    here = Path(brain_file).absolute()   # not resolved: a symlink counts where BM sees it
    roots = [here.parents[3]] if len(here.parents) > 3 else []
    roots.append(cwd or Path.cwd())
    dirs: list[Path] = []
    for root in roots:
        for sub in ("models", "models/gazebo/torch_models", "models/gazebo/tf_models"):
            d = root / sub
            if d.is_dir() and d not in dirs:
                dirs.append(d)
    return dirs


def spec_for_model(model: str | None, model_dirs: Sequence[Path] = ()) -> BrainSpec:
    """BM's ``Parameters.Model`` -> our brain spec: a brain name, a brain YAML, or an artifact path."""
    if not model:
        known = sorted(p.stem for p in paths.brains_dir().glob("*.yaml"))
        raise ConfigError("BehaviorMetrics Parameters.Model is missing: name an artifact (absolute, or under BM's "
                          f"models/) or one of the f1_brains brains: {', '.join(known)}")
    model = str(model)
    if Path(model).suffix == "" and (paths.brains_dir() / f"{model}.yaml").is_file():
        return BrainSpec.load(model)
    candidates = [Path(model).expanduser()] if Path(model).expanduser().is_absolute() else \
        [d / model for d in model_dirs] + [paths.resolve(model)]
    found = next((c for c in candidates if c.exists()), None)
    if found is None:
        raise ModelLoadError(f"BehaviorMetrics model {model!r} not found; looked for "
                             f"{', '.join(str(c) for c in candidates)}")
    if found.suffix in (".yaml", ".yml"):
        return BrainSpec.load(str(found))
    return BrainSpec.from_dict({"name": found.stem, "model": str(found)}, source=f"BehaviorMetrics model {found}")


def load_network(spec: BrainSpec, params: Mapping[str, Any]) -> Brain:
    """A network Brain for ``spec``, its card chosen as the module docstring says (core.brain's one resolver,
    with BM's preprocessing Parameters as the card made once the backend has loaded)."""
    card_params = {k: params[k] for k in CARD_KEYS if k in params}
    model = paths.resolve(spec.model)
    if card_params and (spec.card is not None or card_path_for(model).is_file()):
        log.warning("f1_brains: model card of %s used; Parameters %s ignored", model, sorted(card_params))

    def from_parameters(model: Path, backend: Backend) -> ModelCard:
        shape = backend.input_spec.shape
        return card_from_parameters(card_params, dls_preset_for(model, shape) or _plain_card(backend.name, shape))

    card, backend = load_card_and_backend(
        spec, from_parameters if card_params else None,
        missing=f"write a card, set Parameters.Card, or give BehaviorMetrics' preprocessing Parameters "
                f"({', '.join(CARD_KEYS[2:])}, ImageCropped)")
    return Brain(card, backend, spec.limits, spec.warmup, spec.name)


def _plain_card(backend: str, shape: tuple[int | None, ...] | None) -> ModelCard:
    """The base for Parameters when no preset fits: layout from the recorded input shape (else the framework)."""
    nhwc = shape is not None and len(shape) == 4 and shape[3] == 3
    layout = "NHWC" if nhwc or (shape is None and backend in ("keras", "tflite", "tf_trt")) else "NCHW"
    return ModelCard(name="bm_parameters", input=InputSpec(layout=layout, interpolation="linear",
                                                           normalization="unit" if layout == "NCHW" else "none"))


def motor_limits(motors: Any, limits: Limits) -> Limits:
    """``limits`` tightened by the motors' MaxV/MaxW from BM's config (BM itself never enforces them)."""
    def bound(getter: str, current: float) -> float:
        try:
            value = float(getattr(motors, getter)())
        except (AttributeError, TypeError, ValueError):
            return current
        return min(current, value) if value > 0 else current
    return dataclasses.replace(limits, max_v=bound("getMaxV", limits.max_v), max_w=bound("getMaxW", limits.max_w))


class BehaviorMetricsBrain:
    """BM's brain contract over a network Brain (or the explicit brain). Attributes BM's metrics read:
    ``inference_times`` (s, around the network call only), ``gpu_inference``, ``first_image`` (the first
    480x640 RGB frame), ``suddenness_distance`` (|(v, w)_t - (v, w)_t-1| of the network's raw outputs).

    Construction never raises: BM builds brains without a model (``model=None``) before
    ``reload_brain(model=...)``, takes ``handler.model`` in GUI mode, and any exception but AttributeError ends
    its whole batch. A brain that cannot drive (no model, a model that does not load, a GPU that is not there)
    holds the car at zero and says why: once when built, once when BM first runs it (``not_driving``)."""

    def __init__(self, sensors: Any, actuators: Any, model: str | None = None, handler: Any = None,
                 config: Mapping[str, Any] | None = None, model_dirs: Sequence[Path] = ()) -> None:
        self.camera = sensors.get_camera("camera_0")
        self.motors = actuators.get_motor("motors_0")
        self.handler = handler
        self.brain: Brain | ExplicitBrain | None = None
        self.card: ModelCard | None = None
        self.gpu_inference = False
        self.inference_times: list[float] = []
        self.suddenness_distance: list[float] = []
        self.first_image: np.ndarray | None = None
        self.iterations = self.faults = self.waiting = 0
        self.last_error: str | None = None
        self.not_driving: str | None = None
        self._told_not_driving = False
        self._previous: np.ndarray | None = None
        self._last_log = -LOG_EVERY_S
        model = model or getattr(handler, "model", None)   # GUI mode: the model waits in BM's handler
        if not model:
            self.not_driving = ("no model yet (BehaviorMetrics builds its brains without one before "
                                "reload_brain(model=...); give Parameters.Model)")
            log.info("f1_brains: %s; the car is held at zero until then", self.not_driving)
            return
        try:
            self._load(str(model), dict(config or {}), model_dirs)
        except Exception as e:   # noqa: BLE001 -- any exception here would end BM's whole batch
            self.not_driving = f"model {model!r} cannot drive: {type(e).__name__}: {e}"
            log.error("f1_brains: %s. The car is held at zero.", self.not_driving)

    def _load(self, model: str, params: dict[str, Any], model_dirs: Sequence[Path]) -> None:
        spec = spec_for_model(model, model_dirs)
        overrides: dict[str, Any] = {"card": params.get("Card"), "backend": params.get("Backend")}
        if "GPU" in params:   # a GPU request that cannot be met is an error, never a silent CPU run
            overrides["device"] = "cuda" if params["GPU"] else "cpu"
        spec = spec.with_overrides(limits=motor_limits(self.motors, spec.limits), **overrides)
        self.brain = load_network(spec, params) if spec.type == "network" else brain_from_spec(spec)
        self.card = getattr(self.brain, "card", None)
        about = self.brain.describe()
        self.gpu_inference = bool(is_gpu(str(about.get("device", "cpu"))))
        ignored = sorted(set(params) - set(KNOWN_KEYS))
        log.info("f1_brains: brain %s on %s (%s), limits %s%s", self.brain.name, about.get("backend", "opencv"),
                 about.get("device", "cpu"), spec.limits, f"; Parameters not used: {ignored}" if ignored else "")
        for warning in about.get("warnings", ()):
            log.warning("f1_brains: %s", warning)

    def execute(self) -> None:
        """One BM iteration: the newest camera image -> motors. Never raises: any fault stops the car."""
        self.iterations += 1
        if self.brain is None:
            self._hold_not_driving()
            return
        image = self.camera.getImage().data
        if self.first_image is None:
            if not (isinstance(image, np.ndarray) and image.shape == CAMERA_SHAPE):
                self.waiting += 1   # BM's camera holds a 3x3 placeholder until the first frame arrives
                self._send(0.0, 0.0)
                return
            self.first_image = image
        try:
            decision = self.brain.step(image, "rgb8")
        except Exception as e:   # BadImage, BadOutput (NaN), a backend failing: stop safely and say why
            self._fault(f"{type(e).__name__}: {e}")
            return
        self._send(decision.v, decision.w)
        self.inference_times.append(decision.inference_s)
        outputs = self._network_outputs(decision.unclamped_v, decision.unclamped_w)
        if self._previous is not None:
            self.suddenness_distance.append(float(np.linalg.norm(outputs - self._previous)))
        self._previous = outputs
        if self.handler is not None:
            self._show(image)

    def _hold_not_driving(self) -> None:
        self._send(0.0, 0.0)
        if not self._told_not_driving:
            self._told_not_driving = True
            log.error("f1_brains: BehaviorMetrics is running this brain, but it cannot drive: %s. The car is held "
                      "at zero, and BehaviorMetrics' metrics will fail at the end of the run (they need at least "
                      "21 inference times).", self.not_driving)

    def _network_outputs(self, v: float, w: float) -> np.ndarray:
        """The network's own output values (BM measures suddenness on them, before de-normalization)."""
        if self.card is None:
            return np.array([v, w])
        return self.card.normalize_outputs(np.array([v]), np.array([w]))[0].astype(np.float64)

    def _send(self, v: float, w: float) -> None:
        self.motors.sendV(v)
        self.motors.sendW(w)

    def _fault(self, reason: str) -> None:
        self.faults += 1
        self.last_error = reason
        self._send(0.0, 0.0)
        now = time.monotonic()
        if now - self._last_log >= LOG_EVERY_S:
            self._last_log = now
            log.error("f1_brains: safe stop (zero velocity), %d fault(s) so far: %s", self.faults, reason)

    def _show(self, image: np.ndarray) -> None:
        """BM's GUI frames: frame_0 the camera, frame_1 what the network sees."""
        self.handler.update_frame("frame_0", image)
        if self.card is not None:
            self.handler.update_frame("frame_1", self.card.crop_resize(image))

    def describe(self) -> dict[str, Any]:
        about = self.brain.describe() if self.brain is not None else {}
        return {**about, "iterations": self.iterations, "faults": self.faults, "waiting": self.waiting,
                "last_error": self.last_error, "not_driving": self.not_driving}
