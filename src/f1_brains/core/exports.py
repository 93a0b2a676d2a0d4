"""PilotNet written in the formats other backends load (ONNX, OpenVINO IR, Keras and SavedModel, TFLite), and a
state_dict run on such a backend: exported once, on load, into the user's cache.

The model pipeline (zoo) writes its base formats with these writers; a backend that cannot read a PyTorch state_dict
(DeepLearningStudio's ``pilot_net_model_best_<seed>.pth``) gets the same network in its own format.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..errors import ConfigError
from . import dls, pilotnet

ONNX_INPUT = "image"
TFLITE_MODES = ("float32", "dynamic", "float16", "int8", "int8_fallback", "qat")
STATE_DICT_SUFFIXES = (".pt", ".pth", ".ckpt")


def export_onnx(model, path: Path, input_shape: tuple[int, ...] = (1, 3, pilotnet.INPUT_HEIGHT, pilotnet.INPUT_WIDTH)
                ) -> None:
    """The PyTorch PilotNet ``model`` (taking batches of ``input_shape``) as ONNX (opset 17, dynamic batch)."""
    import torch
    example = torch.zeros(*input_shape)
    torch.onnx.export(model.eval(), (example,), str(path), input_names=[ONNX_INPUT], output_names=["vw"],
                      dynamic_axes={ONNX_INPUT: {0: "batch"}, "vw": {0: "batch"}}, opset_version=17,
                      dynamo=False)


def export_keras(model, keras_path: Path, saved_model_dir: Path) -> None:
    """The PyTorch PilotNet ``model``'s exact Keras twin, as a .keras file and a SavedModel directory."""
    twin = pilotnet.keras_twin(model)
    twin.save(str(keras_path))
    twin.export(str(saved_model_dir), verbose=False)


def export_tflite(saved_model_dir: Path, path: Path, mode: str = "float32",
                  calibration: Callable[[], Iterable[np.ndarray]] | None = None) -> None:
    """Convert a SavedModel. ``calibration`` (NHWC batches) is needed by int8 and int8_fallback; qat takes
    its ranges from the model's fake-quantization nodes."""
    import tensorflow as tf
    if mode not in TFLITE_MODES:
        raise ValueError(f"TFLite mode must be one of {TFLITE_MODES}, not {mode!r}")
    if mode in ("int8", "int8_fallback") and calibration is None:
        raise ValueError(f"TFLite {mode} needs calibration batches")
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir))
    if mode != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if mode in ("int8", "int8_fallback"):
        converter.representative_dataset = lambda: ([b] for b in calibration())
    if mode == "int8":
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    path.write_bytes(converter.convert())


# ---- a state_dict on a backend that does not read one ----

def _write_keras(model, path: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        export_keras(model, path, Path(tmp) / "savedmodel")


def _write_tflite(model, path: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        export_keras(model, Path(tmp) / "twin.keras", Path(tmp) / "savedmodel")
        export_tflite(Path(tmp) / "savedmodel", path)


ON_LOAD = {"onnxruntime": (".onnx", export_onnx), "openvino": (".onnx", export_onnx), "keras": (".keras", _write_keras),
           "tflite": (".tflite", _write_tflite)}


def is_state_dict_file(path: str | Path) -> bool:
    """A torch.save file (not a TorchScript archive) of a kind DeepLearningStudio's train.py writes."""
    path = Path(path)
    return path.is_file() and path.suffix.lower() in STATE_DICT_SUFFIXES and not dls.is_torchscript(path)


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "f1_brains" / "exported"


def state_dict_for(path: str | Path, backend: str) -> Path:
    """The PilotNet state_dict at ``path`` as the float artifact ``backend`` loads, written once into ``cache_dir()``
    (named by the file's content, so an edited file is exported again). Raises ConfigError for a backend that has no
    such format, ModelLoadError when the file is no PilotNet state_dict."""
    if backend not in ON_LOAD:
        raise ConfigError(f"{path} is a PyTorch state_dict: it runs on torchscript, or is exported on load for "
                          f"{', '.join(ON_LOAD)}; not on {backend}")
    path = Path(path)
    suffix, write = ON_LOAD[backend]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    target = cache_dir() / f"{path.stem}-{digest}{suffix}"
    if target.exists():
        return target
    model, _ = dls.pilotnet_from_state_dict(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:   # written whole, then renamed into place
        partial = Path(tmp) / target.name
        write(model, partial)
        shutil.move(str(partial), target)
    return target
