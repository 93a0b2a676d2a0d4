"""Model cards: what a network expects and returns, as data, and the one place that applies it.

A card is a small YAML file beside the artifact (``<artifact>.card.yaml``, or ``card.yaml`` inside a
SavedModel directory). It fixes the camera image it accepts, the crop, resize, colour order,
normalization and tensor layout of the input, and how to turn the network's outputs into (v, w). Every
backend receives the exact tensor the card describes, so no backend carries preprocessing code.
Presets cover DeepLearningStudio's PilotNet artifacts (docs/behaviormetrics.md, "DeepLearningStudio artifacts
without cards").
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from ..errors import BadImage, BadOutput, ConfigError

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
NORMALIZATIONS = ("unit", "imagenet", "none")
LAYOUTS = ("NCHW", "NHWC")
# float32: the card normalizes the pixels; uint8: the network takes the pixels as they are and normalizes them in its
# graph (``normalization`` says how), so the node only crops and resizes.
DTYPES = ("float32", "uint8")
COLORS = ("rgb", "bgr")
# box2_linear: a 2x2 box average, then bilinear: within 1 grey level of "area" at a fraction of its cost (the
# preprocess column of `f1-brains bench`); "linear" alone skips most pixels and aliases thin lines.
INTERPOLATIONS = ("box2_linear", "area", "linear", "nearest")
_CV2_INTERPOLATION = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST}
# DeepLearningStudio's TF scripts declare the input (H, W, 3) = img_shape but train on cv2.resize(img, (H, W)),
# i.e. W rows x H columns: the weights learned the transposed orientation ('same' padding keeps the flatten size).
DLS_TF_ORIENTATION = ("DeepLearningStudio declares its TF PilotNet's input as (200, 66, 3) but trains it on "
                      "cv2.resize(img, (200, 66)) images, 66 rows x 200 columns: fed as trained (preset "
                      "dls_tf_pilotnet_bm feeds the declared shape, as BehaviorMetrics does)")
# Label ranges of DeepLearningStudio's F1 datasets: v in [6.5, 24] m/s, w in [-7.1, 7.1] rad/s.
DLS_RANGES = {"v": (6.5, 24.0), "w": (-7.1, 7.1)}


@dataclass(frozen=True)
class InputSpec:
    camera_height: int = 480           # the camera image the card accepts
    camera_width: int = 640
    crop_rows: tuple[int, int] = (240, 480)   # [top, bottom) rows kept of the camera image
    height: int = 66                  # network input size after resizing
    width: int = 200
    layout: str = "NCHW"
    color: str = "rgb"
    normalization: str = "unit"       # unit: x/255; imagenet: (x/255-mean)/std; none: raw 0..255
    interpolation: str = "box2_linear"
    dtype: str = "float32"
    # Block size b: every b x b block of pixels becomes b*b*3 channels (ONNX SpaceToDepth's order: channel
    # (row in block * b + column in block) * 3 + colour). A 5x5 stride-2 first convolution is then a 3x3 one over 12
    # channels, the same arithmetic in a shape that matrix engines (AMX) run well (zoo.openvino_formats).
    space_to_depth: int = 1

    def crops_like(self, other: "InputSpec") -> bool:
        """Whether ``other`` crops and sizes camera frames as this does (datasets store such pixels), up to the
        resize method (it changes pixels only slightly) and layout and normalization (applied after)."""
        keys = ("camera_height", "camera_width", "crop_rows", "height", "width", "color")
        return all(tuple(getattr(self, k)) == tuple(getattr(other, k)) if k == "crop_rows"
                   else getattr(self, k) == getattr(other, k) for k in keys)


@dataclass(frozen=True)
class OutputSpec:
    names: tuple[str, ...] = ("v", "w")
    normalized: bool = True           # outputs in [0, 1], mapped linearly onto ``ranges``
    ranges: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(DLS_RANGES))


@dataclass(frozen=True)
class ModelCard:
    name: str = "pilotnet"
    framework: str = "pytorch"
    precision: str = "fp32"
    input: InputSpec = field(default_factory=InputSpec)
    output: OutputSpec = field(default_factory=OutputSpec)
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        i, o = self.input, self.output
        checks = [
            (i.layout in LAYOUTS, f"input.layout must be one of {LAYOUTS}, not {i.layout!r}"),
            (i.color in COLORS, f"input.color must be one of {COLORS}, not {i.color!r}"),
            (i.normalization in NORMALIZATIONS,
             f"input.normalization must be one of {NORMALIZATIONS}, not {i.normalization!r}"),
            (i.interpolation in INTERPOLATIONS,
             f"input.interpolation must be one of {tuple(INTERPOLATIONS)}, not {i.interpolation!r}"),
            (0 <= i.crop_rows[0] < i.crop_rows[1] <= i.camera_height,
             f"input.crop_rows {list(i.crop_rows)} must lie within the {i.camera_height}-row camera image"),
            (min(i.height, i.width, i.camera_height, i.camera_width) > 0, "input sizes must be positive"),
            (i.dtype in DTYPES, f"input.dtype must be one of {DTYPES}, not {i.dtype!r}"),
            (isinstance(i.space_to_depth, int) and i.space_to_depth >= 1
             and i.height % i.space_to_depth == 0 and i.width % i.space_to_depth == 0,
             f"input.space_to_depth must be a whole number >= 1 dividing height {i.height} and width {i.width}, "
             f"not {i.space_to_depth!r}"),
            (tuple(o.names[:2]) == ("v", "w"), f"output.names must start with v, w, not {list(o.names)}"),
            (not o.normalized or all(n in o.ranges for n in ("v", "w")),
             "normalized outputs need output.ranges for v and w"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"model card {self.name!r}: {message}")

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """The batch-1 tensor shape the network takes."""
        i = self.input
        b = i.space_to_depth
        c, h, w = 3 * b * b, i.height // b, i.width // b
        return (1, c, h, w) if i.layout == "NCHW" else (1, h, w, c)

    # ---- pre/post-processing: the only implementation in the package ----

    def preprocess(self, image: np.ndarray, encoding: str = "rgb8") -> np.ndarray:
        """Camera image (HxWx3 uint8, ``rgb8`` or ``bgr8``) -> batch-1 float32 network input."""
        return self.to_tensor(self.crop_resize(image, encoding)[None])

    def crop_resize(self, image: np.ndarray, encoding: str = "rgb8") -> np.ndarray:
        """Camera image -> the network's pixels (height x width x 3 uint8, the card's colour order).
        Datasets store these, so training sees exactly what inference sees."""
        i = self.input
        if encoding not in ("rgb8", "bgr8"):
            raise BadImage(f"image encoding {encoding!r} is not supported (expected rgb8 or bgr8)")
        if image.shape != (i.camera_height, i.camera_width, 3) or image.dtype != np.uint8:
            raise BadImage(f"image is {image.shape} {image.dtype}, model card {self.name!r} expects "
                           f"({i.camera_height}, {i.camera_width}, 3) uint8")
        x = resize(image[i.crop_rows[0]:i.crop_rows[1]], i.width, i.height, i.interpolation)
        return x[..., ::-1] if encoding[:3] != i.color else x

    def to_tensor(self, pixels: np.ndarray) -> np.ndarray:
        """A batch of crop_resize outputs (N x height x width x 3 uint8) -> the network's input (float32, or the
        pixels themselves for a uint8 card)."""
        if self.input.dtype == "uint8":
            return self._laid_out(pixels)
        x = pixels.astype(np.float32)
        if self.input.normalization == "none":   # raw pixels, no round trip through [0, 1]
            return self._laid_out(x)
        x *= 1.0 / 255.0
        return self.from_unit(x)

    def from_unit(self, x: np.ndarray, layout: str | None = None) -> np.ndarray:
        """A batch of images in [0, 1] (N x height x width x 3 float32, the card's colour order) -> the network's
        input with the card's normalization, in ``layout`` (default the card's): for augmentations that work on
        [0, 1] pixels (fine-tuning). A uint8 card gets them back as pixels (rounded)."""
        if self.input.dtype == "uint8":
            return self._laid_out(np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8), layout)
        if self.input.normalization == "imagenet":
            x = (x - IMAGENET_MEAN) / IMAGENET_STD
        elif self.input.normalization == "none":
            x = x * 255.0
        return self._laid_out(x, layout)

    def _laid_out(self, x: np.ndarray, layout: str | None = None) -> np.ndarray:
        """N x height x width x 3 -> the card's blocks and layout, contiguous, in the card's dtype."""
        if self.input.space_to_depth > 1:
            x = _blocks(x, self.input.space_to_depth)
        if (layout or self.input.layout) == "NCHW":
            x = x.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(x, dtype=self.input.dtype)

    def input_range(self) -> tuple[float, float]:
        """The range of the values ``to_tensor`` produces (over all channels)."""
        if self.input.dtype == "uint8":
            return 0.0, 255.0
        if self.input.normalization == "unit":
            return 0.0, 1.0
        if self.input.normalization == "imagenet":
            return float((-IMAGENET_MEAN / IMAGENET_STD).min()), float(((1 - IMAGENET_MEAN) / IMAGENET_STD).max())
        return 0.0, 255.0

    def normalize_outputs(self, v: np.ndarray, w: np.ndarray) -> np.ndarray:
        """(v, w) in m/s, rad/s -> the network's outputs (training targets): the inverse of postprocess."""
        if not self.output.normalized:
            return np.column_stack([v, w]).astype(np.float32)
        (v0, v1), (w0, w1) = self.output.ranges["v"], self.output.ranges["w"]
        return np.column_stack([(np.asarray(v) - v0) / (v1 - v0), (np.asarray(w) - w0) / (w1 - w0)]).astype(np.float32)

    def postprocess(self, raw: np.ndarray) -> tuple[float, float]:
        """Raw network output (one sample) -> (v m/s, w rad/s); NaN/inf or a wrong shape raise BadOutput."""
        flat = np.asarray(raw, dtype=np.float64).reshape(-1)
        if flat.size < 2:
            raise BadOutput(f"model {self.name!r} returned {flat.size} values, expected at least 2 (v, w)")
        if not np.all(np.isfinite(flat[:2])):
            raise BadOutput(f"model {self.name!r} returned non-finite output {flat[:2].tolist()}")
        v, w = float(flat[0]), float(flat[1])
        if self.output.normalized:
            (v0, v1), (w0, w1) = self.output.ranges["v"], self.output.ranges["w"]
            v, w = v0 + v * (v1 - v0), w0 + w * (w1 - w0)
        return v, w

    # ---- files ----

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["input"]["crop_rows"] = list(self.input.crop_rows)
        d["output"]["names"] = list(self.output.names)
        d["output"]["ranges"] = {k: list(v) for k, v in self.output.ranges.items()}
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "model card") -> "ModelCard":
        try:
            data = dict(data)
            inp = dict(data.pop("input", {}) or {})
            if "crop_rows" in inp:
                inp["crop_rows"] = tuple(inp["crop_rows"])
            out = dict(data.pop("output", {}) or {})
            if "names" in out:
                out["names"] = tuple(out["names"])
            if "ranges" in out:
                out["ranges"] = {k: tuple(v) for k, v in out["ranges"].items()}
            return cls(input=InputSpec(**inp), output=OutputSpec(**out), **data)
        except TypeError as e:  # unknown or missing keys
            raise ConfigError(f"{source}: {e}") from None

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "ModelCard":
        """A card file. Raises ConfigError when it is missing, not YAML, or not a valid card."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"model card {path} does not exist")
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as e:
            raise ConfigError(f"model card {path} is not valid YAML: {e}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"model card {path} must be a mapping")
        return cls.from_dict(data, source=f"model card {path}")


def resize(image: np.ndarray, width: int, height: int, interpolation: str) -> np.ndarray:
    if interpolation == "box2_linear":
        h, w = image.shape[:2]
        if h >= 2 * height and w >= 2 * width:
            image = cv2.resize(image, (w // 2, h // 2), interpolation=cv2.INTER_AREA)  # integer factor: fast path
        interpolation = "linear"
    return cv2.resize(image, (width, height), interpolation=_CV2_INTERPOLATION[interpolation])


def card_path_for(artifact: str | Path) -> Path:
    """Where the card of ``artifact`` lives: inside a directory artifact, else beside the file."""
    artifact = Path(artifact)
    return artifact / "card.yaml" if artifact.is_dir() else artifact.with_name(artifact.name + ".card.yaml")


def preset(name: str) -> ModelCard:
    """Cards for artifacts made elsewhere, so they run without the user writing one."""
    presets = {
        # DeepLearningStudio PyTorch PilotNet (TorchScript .pth): crop, 66x200, ToTensor -> [0,1].
        "dls_pytorch_pilotnet": ModelCard(
            name="dls_pytorch_pilotnet", framework="pytorch",
            input=InputSpec(layout="NCHW", normalization="unit", interpolation="linear"),
            provenance={"source": "DeepLearningStudio PilotNet (PyTorch)"}),
        # DeepLearningStudio TF PilotNet (h5/SavedModel/tflite): NHWC, ImageNet mean/std, and the
        # whole frame: its training never cropped (the 'crop' vs 'cropped' flag mismatch). 66 rows x 200 columns,
        # as DLS trains it, whatever its declared (200, 66, 3) says.
        "dls_tf_pilotnet": ModelCard(
            name="dls_tf_pilotnet", framework="tensorflow",
            input=InputSpec(crop_rows=(0, 480), layout="NHWC", normalization="imagenet",
                            interpolation="linear"),
            provenance={"source": "DeepLearningStudio PilotNet (TensorFlow)", "notes": [DLS_TF_ORIENTATION]}),
        # The same fed as BehaviorMetrics feeds it: the declared 200 rows x 66 columns (a transposed image).
        "dls_tf_pilotnet_bm": ModelCard(
            name="dls_tf_pilotnet_bm", framework="tensorflow",
            input=InputSpec(crop_rows=(0, 480), height=200, width=66, layout="NHWC", normalization="imagenet",
                            interpolation="linear"),
            provenance={"source": "DeepLearningStudio PilotNet (TensorFlow), fed as BehaviorMetrics feeds it",
                        "notes": ["the declared input shape, 200 rows x 66 columns: not the orientation DLS "
                                  "trained on (66 x 200); for reproducing BehaviorMetrics' numbers"]}),
    }
    if name not in presets:
        raise ConfigError(f"unknown model card preset {name!r}; known: {sorted(presets)}")
    return presets[name]


def _blocks(x: np.ndarray, b: int) -> np.ndarray:
    """N x H x W x C -> N x H/b x W/b x b*b*C, channel (row in block * b + column in block) * C + colour: each
    image's b row phases side by side (cv2.merge: 12 us p50 against 32 for numpy's
    transposing copy of a 66x200 image, a one-off timing of 3,000 calls on one core)."""
    n, h, w, c = x.shape
    x = np.ascontiguousarray(x)
    merged = [cv2.merge([image[row::b].reshape(h // b, w // b, b * c) for row in range(b)]) for image in x]
    return merged[0][None] if n == 1 else np.stack(merged)


# DeepLearningStudio saves each framework's PilotNet in its own formats; an artifact of one of these kinds
# without a card gets that framework's preset. (DLS makes no ONNX, so .onnx always needs a card.)
_DLS_SUFFIX_PRESETS = {".pt": "dls_pytorch_pilotnet", ".pth": "dls_pytorch_pilotnet", ".ckpt": "dls_pytorch_pilotnet",
                       ".tflite": "dls_tf_pilotnet", ".h5": "dls_tf_pilotnet", ".keras": "dls_tf_pilotnet"}


def dls_preset_name(artifact: str | Path) -> str | None:
    """The preset for a card-less artifact of a kind DeepLearningStudio makes: TorchScript .pt/.pth (float,
    dynamic/static quantized, QAT, pruned) and state_dict .pth/.ckpt -> dls_pytorch_pilotnet; .tflite (float or full-integer), .h5/.keras
    and SavedModel directories (TF-TRT ones included) -> dls_tf_pilotnet; None for anything else."""
    path = Path(artifact)
    return "dls_tf_pilotnet" if path.is_dir() else _DLS_SUFFIX_PRESETS.get(path.suffix.lower())


def dls_preset_for(artifact: str | Path, input_shape: tuple[int | None, ...] | None = None) -> ModelCard | None:
    """``dls_preset_name``'s card, with layout and size taken from the artifact's recorded batch input shape
    (``Backend.input_spec.shape``) when it has one: (N, H, W, 3) is NHWC, (N, 3, H, W) is NCHW; a TF artifact's
    declared (N, H, W, 3) is fed W rows x H columns, as DLS trains it (``DLS_TF_ORIENTATION``). None when the
    artifact is no DLS kind, or its recorded input is not a 3-channel image."""
    name = dls_preset_name(artifact)
    if name is None:
        return None
    card = preset(name)
    if input_shape is not None and len(input_shape) != 4:
        return None
    if input_shape is None or any(not isinstance(d, int) for d in input_shape[1:]):
        return card   # no (static) shape recorded, e.g. TorchScript: the preset's own 1x3x66x200
    if input_shape[3] == 3:
        layout, height, width = "NHWC", input_shape[1], input_shape[2]
        if name == "dls_tf_pilotnet":
            height, width = width, height
    elif input_shape[1] == 3:
        layout, height, width = "NCHW", input_shape[2], input_shape[3]
    else:
        return None
    return dataclasses.replace(card, input=dataclasses.replace(card.input, layout=layout, height=height, width=width))
