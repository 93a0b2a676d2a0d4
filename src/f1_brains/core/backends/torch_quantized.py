"""TorchScript archives of eager/FX-quantized PyTorch models: CPU only, quantized engine selectable."""
from __future__ import annotations

from ...errors import BackendUnavailable
from .torchscript import TorchScriptBackend

PREFERRED_ENGINES = ("x86", "fbgemm", "qnnpack")


class TorchQuantizedBackend(TorchScriptBackend):
    """Option ``engine``: x86, fbgemm or qnnpack (default: the first of those this build supports)."""

    name = "torch_quantized"
    gpu_capable = False   # quantized kernels exist for the CPU only; a GPU request is an error

    @classmethod
    def usable_devices(cls) -> list[str]:
        return ["cpu"]

    def _load(self) -> str:
        import torch
        supported = [e for e in torch.backends.quantized.supported_engines if e != "none"]
        engine = self.options.option("engine") or next((e for e in PREFERRED_ENGINES if e in supported), None)
        if engine not in supported:
            raise BackendUnavailable(f"{self.name}: quantized engine {engine!r} is not supported by this "
                                     f"PyTorch build (supported: {supported})")
        torch.backends.quantized.engine = engine
        self.engine = engine
        return super()._load()

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "engine": self.engine}
