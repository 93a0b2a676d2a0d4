"""Inference backends behind one interface, and their registry.

Select a backend by name (``load_backend(path, "onnxruntime")``) or let the artifact choose
(``load_backend(path)``): .onnx (ONNX Runtime; OpenVINO when named), .xml (OpenVINO IR), .tflite, .pt/.pth/.ckpt
(quantized archives go to torch_quantized), .keras/.h5, and SavedModel directories (TF-TRT ones, holding
TRTEngineOp, go to tf_trt).
Frameworks are imported only when a backend loads, so this module is cheap to import.
"""
from __future__ import annotations

from pathlib import Path

from ...errors import ConfigError, ModelLoadError
from .. import exports
from .base import Backend, LoadOptions, TensorSpec
from .keras import KerasBackend
from .onnxruntime import OnnxRuntimeBackend
from .openvino import OpenVINOBackend
from .tf_trt import TFTRTBackend, has_trt_engines
from .tflite import TFLiteBackend
from .torch_quantized import TorchQuantizedBackend
from .torchscript import TorchScriptBackend, is_quantized_archive

BACKENDS: dict[str, type[Backend]] = {cls.name: cls for cls in (
    KerasBackend, TFLiteBackend, TFTRTBackend, TorchScriptBackend, TorchQuantizedBackend, OnnxRuntimeBackend,
    OpenVINOBackend)}

__all__ = ["BACKENDS", "Backend", "LoadOptions", "TensorSpec", "backend_class", "backend_for_artifact",
           "load_backend"]


def backend_class(name: str) -> type[Backend]:
    try:
        return BACKENDS[name]
    except KeyError:
        raise ConfigError(f"unknown backend {name!r}; known backends: {', '.join(BACKENDS)}") from None


def backend_for_artifact(path: str | Path) -> str:
    """The backend name an artifact implies, from its suffix or directory contents."""
    path = Path(path)
    if not path.exists():
        raise ModelLoadError(f"model {path} does not exist")
    if path.is_dir():
        if not (path / "saved_model.pb").is_file():
            raise ModelLoadError(f"model directory {path} holds no saved_model.pb")
        return TFTRTBackend.name if has_trt_engines(path) else KerasBackend.name
    suffix = path.suffix.lower()
    if suffix in TorchScriptBackend.suffixes:
        return TorchQuantizedBackend.name if is_quantized_archive(path) else TorchScriptBackend.name
    for cls in BACKENDS.values():
        if suffix in cls.suffixes:
            return cls.name
    raise ConfigError(f"cannot tell the backend of {path} from its suffix {suffix!r}; name one explicitly")


def load_backend(path: str | Path, backend: str | None = None, options: LoadOptions = LoadOptions()) -> Backend:
    """``path`` loaded by the backend named (default: chosen by the artifact); a PyTorch state_dict named for another
    backend is exported for it on load (core.exports). Raises ConfigError (unknown backend or artifact kind),
    ModelLoadError (missing or corrupt artifact), BackendUnavailable (framework, device)."""
    name = backend or backend_for_artifact(path)
    cls = backend_class(name)
    if issubclass(cls, TorchScriptBackend) or not exports.is_state_dict_file(path):
        return cls(path, options)
    if cls.unavailable_reason():   # say so before exporting for a backend that cannot run
        return cls(path, options)
    loaded = cls(exports.state_dict_for(path, name), options)
    loaded.exported_from = Path(path)
    return loaded
