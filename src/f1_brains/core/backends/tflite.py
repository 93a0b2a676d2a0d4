"""TFLite flatbuffers on the LiteRT interpreter (ai_edge_litert), tf.lite as fallback.

Integer models (int8/uint8 input or output) are fed and read in float: inputs are quantized and
outputs de-quantized with the tensors' own scale and zero point, so a full-integer model returns the
same units as its float original (the step the original write-ups' pipeline missed: its integer outputs
were never de-quantized).
"""
from __future__ import annotations

import numpy as np

from .base import Backend, TensorSpec


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        from tensorflow.lite import Interpreter  # deprecated, but present in TF wheels
    return Interpreter


class TFLiteBackend(Backend):
    name = "tflite"
    suffixes = (".tflite",)

    @classmethod
    def unavailable_reason(cls) -> str | None:
        try:
            _interpreter_class()
        except ImportError:
            return "neither ai-edge-litert nor tensorflow is installed (pip install ai-edge-litert)"
        return None

    def _load(self) -> str:
        threads = self.options.threads if self.options.threads > 0 else None
        try:
            self.interpreter = _interpreter_class()(model_path=str(self.path), num_threads=threads)
            self.interpreter.allocate_tensors()
        except Exception as e:  # ValueError/RuntimeError for files that are not valid flatbuffers
            raise self._fail_load(e) from None
        self._in = self.interpreter.get_input_details()[0]
        self._out = self.interpreter.get_output_details()[0]
        self._batch = int(self._in["shape"][0])
        return "cpu"

    def _resize_batch(self, n: int) -> None:
        shape = list(self._in["shape"])
        shape[0] = n
        self.interpreter.resize_tensor_input(self._in["index"], shape)
        self.interpreter.allocate_tensors()
        self._in = self.interpreter.get_input_details()[0]
        self._out = self.interpreter.get_output_details()[0]
        self._batch = n

    def predict(self, batch: np.ndarray) -> np.ndarray:
        if batch.shape[0] != self._batch:
            self._resize_batch(batch.shape[0])
        dtype = self._in["dtype"]
        if np.issubdtype(dtype, np.integer):
            scale, zero = self._in["quantization"]
            info = np.iinfo(dtype)
            batch = np.clip(np.round(batch / scale + zero), info.min, info.max).astype(dtype)
        self.interpreter.set_tensor(self._in["index"], batch)
        self.interpreter.invoke()
        out = self.interpreter.get_tensor(self._out["index"])
        if np.issubdtype(out.dtype, np.integer):
            scale, zero = self._out["quantization"]
            return ((out.astype(np.float32) - zero) * scale).astype(np.float32)
        return out.astype(np.float32, copy=False)

    @staticmethod
    def _spec(detail: dict) -> TensorSpec:
        shape = tuple(int(d) if d > 0 else None for d in detail.get("shape_signature", detail["shape"]))
        return TensorSpec(detail["name"], shape, np.dtype(detail["dtype"]).name)

    @property
    def input_spec(self) -> TensorSpec:
        return self._spec(self._in)

    @property
    def output_spec(self) -> TensorSpec:
        return self._spec(self._out)
