"""TFLite flatbuffers on the LiteRT interpreter (ai_edge_litert), tf.lite as fallback.

Integer models (int8/uint8 input or output) are fed and read in float: inputs are quantized and
outputs de-quantized with the tensors' own scale and zero point, so a full-integer model returns the
same units as its float original (the step the original write-ups' pipeline missed: its integer outputs
were never de-quantized).
"""
from __future__ import annotations

import numpy as np

from ...errors import ModelLoadError
from .base import PortBackend, TensorSpec


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        from tensorflow.lite import Interpreter  # deprecated, but present in TF wheels
    return Interpreter


class TFLiteBackend(PortBackend):
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
        self._resize([n, *self._in["shape"][1:]])

    def _resize(self, shape: list[int]) -> None:
        self.interpreter.resize_tensor_input(self._in["index"], shape)
        self.interpreter.allocate_tensors()
        self._in = self.interpreter.get_input_details()[0]
        self._out = self.interpreter.get_output_details()[0]
        self._batch = int(shape[0])

    def input_range(self) -> tuple[float, float] | None:
        dtype = self._in["dtype"]
        if not np.issubdtype(dtype, np.integer):
            return None
        scale, zero = self._in["quantization"]
        info = np.iinfo(dtype)
        return float((info.min - zero) * scale), float((info.max - zero) * scale)

    def fit_input(self, shape: tuple[int, ...]) -> None:
        """Resize the input where the graph allows it (e.g. DeepLearningStudio's 'same'-padded PilotNet on the
        transposed image it was trained on): the output must keep its size."""
        declared, outputs = list(self._in["shape"]), int(np.prod(self._out["shape"][1:]))
        as_recorded = self.input_spec.shape
        try:
            self._resize([self._batch, *shape[1:]])
            self.interpreter.invoke()   # shapes propagate on invoke; a graph that cannot follow fails here
            if int(np.prod(self._out["shape"][1:])) != outputs:
                raise ValueError(f"its output becomes {list(self._out['shape'])}")
        except (ValueError, RuntimeError) as e:
            self._resize(declared)
            raise ModelLoadError(f"{self.name}: {self.path} cannot take {tuple(shape)} instead of its declared "
                                 f"{tuple(declared)}: {str(e).strip().splitlines()[0][:200]}") from None
        self._fed_other_than_declared(as_recorded, shape)

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
        """The signature's batch dimension (None where dynamic) and the sizes in effect (``fit_input``) after it."""
        signature, current = detail.get("shape_signature", detail["shape"]), detail["shape"]
        shape = (int(signature[0]) if signature[0] > 0 else None,
                 *(int(c) if s > 0 else None for s, c in zip(signature[1:], current[1:])))
        return TensorSpec(detail["name"], shape, np.dtype(detail["dtype"]).name)

