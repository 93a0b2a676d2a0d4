"""TF-TRT: SavedModels converted with TensorRT engine ops (TRTEngineOp); zoo/tensorrt_formats.py converts them.

Needs a TensorFlow built with TensorRT (the last pip wheels with it are TF 2.17), the TensorRT
libraries, and an NVIDIA GPU. Anywhere else loading fails with a message naming what is missing.
A SavedModel with no TRTEngineOp is rejected: it was never converted (or every segment fell back to
TensorFlow), which is how the seeds' three TF-TRT precisions ended up identical.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import BackendUnavailable, ModelLoadError
from .base import Backend, TensorSpec, cuda_index, is_gpu
from .keras import import_tensorflow, saved_model_signature, tensor_spec

PRECISIONS = ("FP32", "FP16", "INT8")


def tf_trt_problem() -> str | None:
    """None when TF-TRT can run here, else everything that is missing, in one line."""
    try:
        tf = import_tensorflow()
    except BackendUnavailable as e:
        return str(e)
    problems = []
    if not tf.sysconfig.get_build_info().get("is_tensorrt_build", False):
        problems.append(f"TensorFlow {tf.__version__} is not built with TensorRT (TF-TRT needs a TensorRT "
                        "build of TensorFlow, e.g. tensorflow==2.17 from pip or NVIDIA's container)")
    else:
        try:
            from tensorflow.compiler.tf2tensorrt import _pywrap_py_utils as trt_utils
            if not trt_utils.is_tensorrt_enabled() or trt_utils.get_loaded_tensorrt_version() == (0, 0, 0):
                problems.append("the TensorRT libraries (libnvinfer) cannot be loaded")
        except ImportError:
            problems.append("TensorFlow's TensorRT bindings are missing")
    if not tf.config.list_physical_devices("GPU"):
        problems.append("no NVIDIA GPU is visible to TensorFlow")
    return "; ".join(problems) or None


def has_trt_engines(saved_model_dir: str | Path) -> bool:
    pb = Path(saved_model_dir) / "saved_model.pb"
    return pb.is_file() and b"TRTEngineOp" in pb.read_bytes()


class TFTRTBackend(Backend):
    name = "tf_trt"
    suffixes = ()   # a SavedModel directory whose graph holds TRTEngineOp
    gpu_capable = True

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return tf_trt_problem()

    @classmethod
    def usable_devices(cls) -> list[str]:
        tf = import_tensorflow()
        return [f"cuda:{i}" for i, _ in enumerate(tf.config.list_physical_devices("GPU"))]

    def _load(self) -> str:
        tf = import_tensorflow()
        if not is_gpu(self.options.device):
            raise BackendUnavailable(f"{self.name}: TensorRT engines run on an NVIDIA GPU; device "
                                     f"{self.options.device!r} requested (use cuda)")
        if not has_trt_engines(self.path):
            raise ModelLoadError(f"{self.name}: {self.path} holds no TRTEngineOp: it is not a TF-TRT converted "
                                 "SavedModel (load it with the keras backend)")
        with tf.device(f"/GPU:{cuda_index(self.options.device)}"):
            self._keep, sig, in_name, out_name = saved_model_signature(tf, self.path)
        self._sig, self._in_name, self._out_name = sig, in_name, out_name
        return f"cuda:{cuda_index(self.options.device)}"

    def predict(self, batch: np.ndarray) -> np.ndarray:
        # .numpy() copies to the host and so waits for the GPU: timings around predict are honest.
        return self._sig(**{self._in_name: batch})[self._out_name].numpy()

    @property
    def input_spec(self) -> TensorSpec:
        return tensor_spec(self._sig.structured_input_signature[1][self._in_name])

    @property
    def output_spec(self) -> TensorSpec:
        return tensor_spec(self._sig.structured_outputs[self._out_name])
