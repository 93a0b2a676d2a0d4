"""ONNX models on ONNX Runtime with the CPU, CUDA or TensorRT execution provider."""
from __future__ import annotations

import numpy as np

from ...errors import BackendUnavailable
from .base import PortBackend, TensorSpec, cuda_index, is_gpu

ORT_DTYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(int8)": "int8",
              "tensor(uint8)": "uint8"}


class OnnxRuntimeBackend(PortBackend):
    """Option ``tensorrt: true`` puts the TensorRT provider first on a GPU (CUDA behind it)."""

    name = "onnxruntime"
    suffixes = (".onnx",)
    gpu_capable = True

    @classmethod
    def unavailable_reason(cls) -> str | None:
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            return "onnxruntime is not installed (pip install onnxruntime)"
        return None

    @classmethod
    def usable_devices(cls) -> list[str]:
        import onnxruntime as ort
        available = ort.get_available_providers()
        devices = ["cpu"]
        return devices + (["cuda"] if "CUDAExecutionProvider" in available else [])

    @classmethod
    def usable_accelerators(cls) -> list[str]:
        import onnxruntime as ort
        return ["tensorrt"] if "TensorrtExecutionProvider" in ort.get_available_providers() else []

    def _providers(self) -> list:
        import onnxruntime as ort
        if not is_gpu(self.options.device):
            return ["CPUExecutionProvider"]
        wanted = ["CUDAExecutionProvider"]
        if self.options.option("tensorrt"):
            wanted.insert(0, "TensorrtExecutionProvider")
        missing = [p for p in wanted if p not in ort.get_available_providers()]
        if missing:
            raise BackendUnavailable(
                f"{self.name}: device {self.options.device!r} needs {', '.join(missing)}, but this onnxruntime "
                f"{ort.__version__} offers only {ort.get_available_providers()} (install onnxruntime-gpu on a CUDA machine)")
        return [(p, {"device_id": cuda_index(self.options.device)}) for p in wanted]

    def _load(self) -> str:
        import onnxruntime as ort
        providers = self._providers()
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.intra_op_num_threads = self.options.threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(self.path), sess_options=opts, providers=providers)
        except Exception as e:  # onnxruntime raises its own exception types for bad files
            raise self._fail_load(e) from None
        used = self.session.get_providers()[0]
        requested = providers[0] if isinstance(providers[0], str) else providers[0][0]
        if used != requested:  # ORT silently falls back to the CPU when a GPU provider fails to start
            raise BackendUnavailable(f"{self.name}: {requested} failed to start; ONNX Runtime fell back to {used}")
        self._in = self.session.get_inputs()[0]
        self._out = self.session.get_outputs()[0]
        self.accelerator = "tensorrt" if used == "TensorrtExecutionProvider" else None
        return "cpu" if used == "CPUExecutionProvider" else self.options.device

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run([self._out.name], {self._in.name: batch})[0]

    @staticmethod
    def _spec(arg) -> TensorSpec:
        shape = tuple(d if isinstance(d, int) else None for d in arg.shape)
        return TensorSpec(arg.name, shape, ORT_DTYPES.get(arg.type, arg.type))

