"""The backend interface: load an artifact on a device, run a batch, describe what is running.

A backend only runs a network: it receives the tensor the model card describes (float32, or the uint8 pixels of a
card whose network normalizes them itself) and returns the raw float32 outputs. Quantization of int8 inputs/outputs, device placement and threading are
the backend's business; image preprocessing and output scaling are the card's.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ...errors import BackendUnavailable, ModelLoadError

if TYPE_CHECKING:
    from ..model_card import ModelCard


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int | None, ...] | None   # None entries: dynamic; None: not recorded in the artifact
    dtype: str                       # the dtype the network stores (e.g. int8 for full-integer TFLite)


@dataclass(frozen=True)
class LoadOptions:
    device: str = "cpu"      # "cpu" or "cuda:N" ("cuda" and "gpu" mean cuda:0); see ``normalize_device``
    threads: int = 1         # intra-op threads (0: the framework's default); TF's and torch's are process-wide
    extra: tuple[tuple[str, object], ...] = ()   # backend-specific options, e.g. (("xla", "auto"),)

    def option(self, key: str, default: object = None) -> object:
        return dict(self.extra).get(key, default)


class Backend(abc.ABC):
    """One loaded model on one device. Subclasses set ``name`` and ``suffixes`` and implement the rest."""

    name: str = ""
    suffixes: tuple[str, ...] = ()   # artifact file suffixes this backend claims (for selection)
    gpu_capable: bool = False
    accelerator: str | None = None   # set by _load when an accelerator runs the model (e.g. "tensorrt")
    exported_from: Path | None = None   # the state_dict this artifact was exported from on load (core.exports)

    def __init__(self, path: str | Path, options: LoadOptions = LoadOptions()) -> None:
        self.path = Path(path)
        self.options = options
        if not self.path.exists():
            raise ModelLoadError(f"{self.name}: model {self.path} does not exist")
        try:
            options = replace(options, device=normalize_device(options.device))
        except BackendUnavailable as e:
            raise BackendUnavailable(f"{self.name}: {e}") from None
        self.options = options
        problem = self.unavailable_reason()
        if problem:
            raise BackendUnavailable(f"{self.name}: {problem}")
        if is_gpu(options.device) and not self.gpu_capable:
            raise BackendUnavailable(f"{self.name}: runs on the CPU only; device {options.device!r} requested")
        self.threads = options.threads   # a backend whose framework sets threads process-wide reports the real value
        self.warnings: list[str] = []    # what is wrong with the artifact but still runs (logged by whoever loads)
        self.device = self._load()

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """None when this backend can run here; otherwise why not (missing package, build, ...)."""
        return None

    @classmethod
    def usable_devices(cls) -> list[str]:
        """Devices this backend can use on this machine: "cpu", "cuda"."""
        return ["cpu"]

    @classmethod
    def usable_accelerators(cls) -> list[str]:
        """Accelerators this backend can put behind a device here (backend options, e.g. "tensorrt")."""
        return []

    @classmethod
    def bench_options(cls, card: "ModelCard") -> list[dict[str, object]]:
        """Backend options worth timing beside an artifact's defaults on this machine (`f1-brains bench` rows)."""
        return []

    @abc.abstractmethod
    def _load(self) -> str:
        """Load ``self.path`` for ``self.options``; return the device actually used (e.g. 'cpu')."""

    @abc.abstractmethod
    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Run a batch shaped like ``input_spec`` (the card's dtype); return float32 outputs (N, outputs)."""

    @property
    @abc.abstractmethod
    def input_spec(self) -> TensorSpec: ...

    @property
    @abc.abstractmethod
    def output_spec(self) -> TensorSpec: ...

    def input_range(self) -> tuple[float, float] | None:
        """The float range an integer input tensor can represent (its scale and zero point); None for float inputs."""
        return None

    def fit_input(self, shape: tuple[int, ...]) -> None:
        """Take batch inputs of ``shape`` instead of the declared one (same rank and channels, other height and
        width), where the network allows it, and add a warning saying so. Raises ModelLoadError where this artifact's
        input is fixed."""
        raise ModelLoadError(f"{self.name}: {self.path} takes a fixed input {self.input_spec.shape}, not {shape}")

    def _fed_other_than_declared(self, declared: tuple, shape: tuple[int, ...]) -> None:
        self.warnings.append(f"{self.path}: declares input {tuple(declared)}, fed {shape[1]} rows x {shape[2]} columns "
                             f"as its card says (the orientation DeepLearningStudio trains its TF PilotNet on)")

    def describe(self) -> dict[str, object]:
        """What is running: for logs, run metadata and benchmarks."""
        return {"backend": self.name, "artifact": str(self.path), "device": self.device,
                "accelerator": self.accelerator, "threads": self.threads,
                **({"threads_requested": self.options.threads} if self.threads != self.options.threads else {}),
                "input": self.input_spec.__dict__, "output": self.output_spec.__dict__,
                **({"warnings": list(self.warnings)} if self.warnings else {}),
                **({"exported_from": str(self.exported_from)} if self.exported_from else {})}

    def _fail_load(self, error: Exception) -> ModelLoadError:
        """A one-line load error naming the file, for corrupt or truncated artifacts."""
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return ModelLoadError(f"{self.name}: cannot load {self.path}: {first_line[:300]}")


class PortBackend(Backend):
    """A backend whose framework describes its input and output ports (kept in ``_in`` and ``_out``): ``_spec`` turns
    one into a TensorSpec."""

    @staticmethod
    @abc.abstractmethod
    def _spec(port) -> TensorSpec: ...

    @property
    def input_spec(self) -> TensorSpec:
        return self._spec(self._in)

    @property
    def output_spec(self) -> TensorSpec:
        return self._spec(self._out)


def normalize_device(device: str) -> str:
    """The one device model: "cpu" or "cuda:N"; "cuda" and "gpu" mean cuda:0. Accelerators such as TensorRT or
    OpenVINO's are backend options, never devices. Raises BackendUnavailable for anything else."""
    kind, _, index = str(device).strip().lower().partition(":")
    if kind == "cpu" and not index:
        return "cpu"
    if kind in ("cuda", "gpu") and (not index or index.isdigit()):
        return f"cuda:{int(index or 0)}"
    raise BackendUnavailable(f"unknown device {device!r} (use cpu, cuda or cuda:N; TensorRT is a backend option)")


def is_gpu(device: str) -> bool:
    """Whether a device (as given, or as a backend reports it) is a GPU; unknown names are not."""
    try:
        return normalize_device(device) != "cpu"
    except BackendUnavailable:
        return False


def cuda_index(device: str) -> int:
    """'cuda' -> 0, 'cuda:1' -> 1."""
    parts = device.split(":")
    return int(parts[1]) if len(parts) > 1 else 0

