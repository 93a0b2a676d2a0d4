"""TorchScript archives (.pt/.pth, as DeepLearningStudio's optimize script saves them) and PilotNet state_dicts
(.pth/.ckpt, as its train script saves them; traced here once at load) on CPU or CUDA.

Option ``batchnorm``: ``as_saved`` (default) or ``eval``: rebuild a TorchScript PilotNet traced with BatchNorm in
training mode (DeepLearningStudio's baseline) from its weights, so it runs with its trained statistics.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ...errors import BackendUnavailable, ConfigError, ModelLoadError
from .. import dls
from ..pilotnet import INPUT_HEIGHT, INPUT_WIDTH
from .base import Backend, TensorSpec, cuda_index, is_gpu

BATCHNORM_MODES = ("as_saved", "eval")


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
    suffixes = (".pt", ".pth", ".ckpt")
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
        batchnorm = self.options.option("batchnorm", "as_saved")
        if batchnorm not in BATCHNORM_MODES:
            raise ConfigError(f"{self.name}: option batchnorm must be one of {BATCHNORM_MODES}, not {batchnorm!r}")
        if dls.is_torchscript(self.path):
            module = self._load_torchscript(device, batchnorm == "eval")
        else:   # a torch.save file: a PilotNet state_dict, traced here in eval mode
            model, naming = dls.pilotnet_from_state_dict(self.path)
            self.artifact_kind = f"state_dict ({naming} keys)"
            module = self._trace(model, device)
        self.module = self._optimize(module.eval())
        self._device = torch.device(device)
        return device

    def _load_torchscript(self, device: str, rebuild_eval: bool):
        import torch
        try:
            module = torch.jit.load(str(self.path), map_location=device)
        except Exception as e:  # torch raises RuntimeError/ValueError/... for corrupt archives
            raise self._fail_load(e) from None
        self.artifact_kind = "torchscript"
        if not dls.training_mode_batchnorms(module):
            return module
        if not rebuild_eval:
            self.warnings.append(f"{self.path}: {dls.TRAINING_MODE_BATCHNORM}")
            return module
        try:
            model, naming = dls.pilotnet_with_weights(module.state_dict(), self.path)
        except ModelLoadError as e:
            raise ModelLoadError(f"{self.name}: batchnorm: eval rebuilds PilotNet only; {e}") from None
        self.artifact_kind = f"torchscript rebuilt with BatchNorm in eval mode ({naming} keys)"
        return self._trace(model, device)

    def _trace(self, model, device: str):
        import torch
        model = model.to(device)
        example = torch.zeros(1, 3, INPUT_HEIGHT, INPUT_WIDTH, device=device)
        with torch.no_grad():
            return torch.jit.trace(model, example)

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

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "artifact_kind": self.artifact_kind}

    @property
    def input_spec(self) -> TensorSpec:
        return TensorSpec("input", None, "float32")  # TorchScript archives do not record shapes

    @property
    def output_spec(self) -> TensorSpec:
        return TensorSpec("output", None, "float32")
