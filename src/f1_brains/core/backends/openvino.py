"""OpenVINO: our .onnx files and OpenVINO IR (.xml + .bin) on Intel CPUs (AMX, AVX-512 VNNI), GPUs and NPUs.

Options:
- ``precision``: ``fp32`` (default) or ``bf16``. Explicit, because on AMX CPUs OpenVINO silently runs bf16
  unless told otherwise, and where bf16 is missing it silently runs f32 (then a warning says so); an int8 model
  (QDQ ONNX, NNCF IR) runs int8 either way.
- ``ov_device``: ``CPU`` (default), ``GPU``, ``GPU.1``, ``NPU``: OpenVINO's own device names. They are backend
  options, not our devices: OpenVINO runs on Intel hardware, never on CUDA.
- ``streams`` (default 1) and ``pinning`` (default false): OpenVINO's NUM_STREAMS and ENABLE_CPU_PINNING.
- ``profile`` (default false): OpenVINO's PERF_COUNT, so ``layer_times`` can say where an inference's time goes
  (`f1-brains info MODEL --layers`); it slows inference a little.
Threads are the brain's ``threads`` (INFERENCE_NUM_THREADS; 0 = OpenVINO's default).
"""
from __future__ import annotations

import numpy as np

from ...errors import BackendUnavailable, ConfigError
from .base import PortBackend, TensorSpec

PRECISIONS = {"fp32": "f32", "bf16": "bf16"}
FLOAT_ACTIVATIONS = ("fp32", "int8-weights")   # card precisions whose arithmetic OpenVINO may run in bf16
MIN_VERSION = (2024, 0)


def _openvino():
    try:
        import openvino
    except ImportError:
        raise BackendUnavailable("openvino: OpenVINO is not installed (pip install openvino)") from None
    return openvino


def _version(ov) -> tuple[int, int]:
    try:
        return tuple(int(p) for p in ov.__version__.split(".")[:2])
    except ValueError:
        return (0, 0)


class OpenVINOBackend(PortBackend):
    name = "openvino"
    suffixes = (".xml",)   # OpenVINO IR; .onnx files run here when a brain names this backend

    @classmethod
    def unavailable_reason(cls) -> str | None:
        try:
            ov = _openvino()
        except BackendUnavailable as e:
            return str(e).removeprefix("openvino: ")
        if _version(ov) < MIN_VERSION:
            return f"OpenVINO {ov.__version__} is too old (needs {MIN_VERSION[0]}.{MIN_VERSION[1]} or newer)"
        return None

    @classmethod
    def usable_accelerators(cls) -> list[str]:
        """OpenVINO's devices here (CPU, GPU, NPU), selected with option ``ov_device``."""
        return list(_openvino().Core().available_devices)

    @classmethod
    def bench_options(cls, card) -> list[dict[str, object]]:
        """A float artifact also in bf16 where this CPU runs bf16 natively (AMX, AVX-512 BF16)."""
        if card.precision not in FLOAT_ACTIVATIONS or cls.unavailable_reason():
            return []
        capabilities = _openvino().Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
        return [{"precision": "bf16"}] if "BF16" in capabilities else []

    def _load(self) -> str:
        ov = _openvino()
        core = ov.Core()
        ov_device, devices = str(self.options.option("ov_device", "CPU")), core.available_devices
        if ov_device not in devices and not any(d.startswith(ov_device + ".") for d in devices):   # GPU = GPU.0
            raise BackendUnavailable(f"{self.name}: OpenVINO device {ov_device!r} is not here (available: "
                                     f"{', '.join(devices)})")
        precision, streams = str(self.options.option("precision", "fp32")), self.options.option("streams", 1)
        if precision not in PRECISIONS:
            raise ConfigError(f"{self.name}: option precision must be one of {tuple(PRECISIONS)}, not {precision!r}")
        if isinstance(streams, bool) or not isinstance(streams, int) or streams < 1:
            raise ConfigError(f"{self.name}: option streams must be a whole number of at least 1, not {streams!r}")
        config = {"INFERENCE_PRECISION_HINT": PRECISIONS[precision], "PERFORMANCE_HINT": "LATENCY",
                  "NUM_STREAMS": str(streams), "PERF_COUNT": bool(self.options.option("profile", False))}
        if ov_device.startswith("CPU"):
            config["ENABLE_CPU_PINNING"] = bool(self.options.option("pinning", False))
            if self.options.threads > 0:
                config["INFERENCE_NUM_THREADS"] = self.options.threads
        try:
            model = core.read_model(str(self.path))
            self.compiled = core.compile_model(model, ov_device, config)
        except Exception as e:   # OpenVINO raises RuntimeError for unreadable or unsupported files
            raise self._fail_load(e) from None
        self.request = self.compiled.create_infer_request()
        self.precision, self.ov_device = precision, ov_device
        running = self._inference_precision()
        if precision == "bf16" and running != "bf16":   # OpenVINO falls back without a word where bf16 is missing
            capabilities = ", ".join(core.get_property(ov_device, "OPTIMIZATION_CAPABILITIES"))
            self.warnings.append(f"{self.path}: bf16 asked, but {ov_device} runs {running} (it offers {capabilities})")
        if ov_device.startswith("CPU"):
            self.threads = int(self.compiled.get_property("INFERENCE_NUM_THREADS"))
        self._in, self._out = self.compiled.inputs[0], self.compiled.outputs[0]
        # A batch-1 input tensor the request keeps: predict copies into it, so no tensor is built per call
        # (infer({0: batch}) costs ~0.09 ms more per call on a 0.15 ms network).
        declared = self._in.get_partial_shape()
        self._staged, self._staged_array, self._staged_bound = None, None, False
        self._batch_one = declared.rank.is_static and declared[0].is_static and declared[0].get_length() == 1
        if declared.rank.is_static and self._in.get_element_type().is_static():
            self._staged = ov.Tensor(self._in.get_element_type(),
                                     [1 if d.is_dynamic else d.get_length() for d in declared])
            self._staged_array = self._staged.data   # a numpy view of the tensor's memory, made once
        return "cpu"

    def predict(self, batch: np.ndarray) -> np.ndarray:
        staged = self._staged_array
        if len(batch) > 1 and self._batch_one:   # a batch-1 IR (ours: faster than a dynamic batch): a sample at a time
            return np.concatenate([self.predict(batch[i:i + 1]) for i in range(len(batch))])
        if staged is not None and batch.shape == staged.shape and batch.dtype == staged.dtype:
            if not self._staged_bound:
                self.request.set_input_tensor(self._staged)
                self._staged_bound = True
            np.copyto(staged, batch)
            self.request.infer()
        else:   # another batch size or dtype: OpenVINO builds (and converts) the tensor
            self._staged_bound = False
            self.request.infer({0: batch})
        return np.array(self.request.get_output_tensor(0).data, dtype=np.float32)

    def layer_times(self) -> list[tuple[str, str, str, float]]:
        """The last inference's executed layers in order: (name, type, kernel, microseconds); needs option profile."""
        if str(self.compiled.get_property("PERF_COUNT")).upper() not in ("YES", "TRUE"):   # OpenVINO says 'YES'/'NO'
            raise ConfigError(f"{self.name}: layer times need the backend option profile: true")
        return [(p.node_name, p.node_type, p.exec_type, p.real_time.total_seconds() * 1e6)
                for p in self.request.get_profiling_info() if p.status == p.Status.EXECUTED]

    @staticmethod
    def _spec(port) -> TensorSpec:
        shape = tuple(None if d.is_dynamic else d.get_length() for d in port.get_partial_shape())
        return TensorSpec(port.get_any_name() if port.get_names() else "", shape,
                          port.get_element_type().to_dtype().name)   # numpy's names, as the other backends


    def _inference_precision(self) -> str:
        """What OpenVINO runs the float parts in, as it reports it: f32, bf16, f16."""
        hint = self.compiled.get_property("INFERENCE_PRECISION_HINT")
        return hint.get_type_name() if hasattr(hint, "get_type_name") else str(hint)

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "precision": self.precision, "ov_device": self.ov_device,
                "inference_precision": self._inference_precision()}
