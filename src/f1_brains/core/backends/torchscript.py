"""TorchScript archives (.pt/.pth, as DeepLearningStudio saves them) on CPU or CUDA."""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ...errors import BackendUnavailable
from .base import Backend, TensorSpec, cuda_index, is_gpu


def is_quantized_archive(path: str | Path) -> bool:
    """True when a TorchScript archive's code calls quantized ops (eager/FX-quantized models)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(b"quantized" in archive.read(n) for n in archive.namelist()
                       if "/code/" in n and n.endswith(".py"))
    except (zipfile.BadZipFile, OSError):
        return False


class TorchScriptBackend(Backend):
    name = "torchscript"
    suffixes = (".pt", ".pth")
    gpu_capable = True

    @classmethod
    def unavailable_reason(cls) -> str | None:
        try:
            import torch  # noqa: F401
        except ImportError:
            return "PyTorch is not installed (pip install torch)"
        return None

    @classmethod
    def usable_devices(cls) -> list[str]:
        import torch
        return ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]

    def _torch_device(self) -> str:
        import torch
        if not is_gpu(self.options.device):
            return "cpu"
        if not torch.cuda.is_available():
            raise BackendUnavailable(f"{self.name}: device {self.options.device!r} requested but PyTorch "
                                     f"{torch.__version__} sees no CUDA GPU")
        return f"cuda:{cuda_index(self.options.device)}"

    def _load(self) -> str:
        import torch
        device = self._torch_device()
        if self.options.threads > 0:   # torch's setting is process-wide: predict() puts ours back if changed
            torch.set_num_threads(self.options.threads)
        self.threads = torch.get_num_threads()
        try:
            module = torch.jit.load(str(self.path), map_location=device)
        except Exception as e:  # torch raises RuntimeError/ValueError/... for corrupt archives
            raise self._fail_load(e) from None
        self.module = self._optimize(module.eval())
        self._device = torch.device(device)
        return device

    def _optimize(self, module):
        """Freeze (constants folded, attributes inlined) and fuse for inference where TorchScript can."""
        import torch
        try:
            return torch.jit.optimize_for_inference(torch.jit.freeze(module))
        except Exception:  # already frozen, or ops the passes do not handle: run as saved
            return module

    def predict(self, batch: np.ndarray) -> np.ndarray:
        import torch
        if torch.get_num_threads() != self.threads:   # another torch model in this process set its own
            torch.set_num_threads(self.threads)
        with torch.inference_mode():
            out = self.module(torch.from_numpy(batch).to(self._device))
        return out.float().cpu().numpy()  # .cpu() waits for the GPU, so timings around this are honest

    @property
    def input_spec(self) -> TensorSpec:
        return TensorSpec("input", None, "float32")  # TorchScript archives do not record shapes

    @property
    def output_spec(self) -> TensorSpec:
        return TensorSpec("output", None, "float32")
