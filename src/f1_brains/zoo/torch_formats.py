"""PyTorch artifacts of PilotNet: TorchScript, dynamic/static int8, quantization-aware training and pruning.

Every function takes the trained model and works on a deep copy, so no optimization is stacked on
another by accident; pruning + quantization is the one deliberate stack (``prune`` then
``export_static_int8``). Quantized models are eager-mode (torch.ao.quantization) and saved as TorchScript.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Iterable

import numpy as np

from ..core import pilotnet
from .finetune import TuningSet, finetune_torch

PRUNABLE = ("Conv2d", "Linear")


def export_torchscript(model, path: Path) -> None:
    import torch
    example = torch.zeros(1, 3, pilotnet.INPUT_HEIGHT, pilotnet.INPUT_WIDTH)
    with torch.no_grad():
        torch.jit.trace(model.eval(), example).save(str(path))


def export_dynamic_int8(model, path: Path) -> None:
    """int8 weights of the dense layers, activations quantized on the fly (convolutions stay float)."""
    import torch
    from torch.ao.quantization import quantize_dynamic
    export_torchscript(quantize_dynamic(copy.deepcopy(model).eval(), {torch.nn.Linear}, dtype=torch.qint8), path)


def qconfig(qat: bool = False):
    """Per-channel int8 weights and full 8-bit activations, ranges from histograms (post-training) or
    moving min/max (QAT). The x86 engine's default config keeps activations to 7 bits (reduce_range, for
    CPUs without VNNI): on the test set that cost 1.37x the float MSE against 1.05x with 8 bits."""
    from torch.ao import quantization as tq
    if qat:
        activation = tq.FakeQuantize.with_args(observer=tq.MovingAverageMinMaxObserver, quant_min=0, quant_max=255,
                                               reduce_range=False)
        return tq.QConfig(activation=activation, weight=tq.default_per_channel_weight_fake_quant)
    return tq.QConfig(activation=tq.HistogramObserver.with_args(reduce_range=False),
                      weight=tq.default_per_channel_weight_observer)


def quantizable(model, engine: str = "x86", qat: bool = False):
    """A copy of ``model`` ready for eager-mode quantization: conv/linear + ReLU fused, quant stubs around
    everything between the input BatchNorm and the last pilotnet.INT8_FLOAT_TAIL dense layers, which stay
    float. The BatchNorm cannot fuse into the conv after it, and folding it in coarsens that conv's
    per-channel weight scales (1.49x the float MSE here). The float tail took static int8 from 1.04x to 0.96x
    the float MSE on the test set and pruned + static int8 from 1.14x to 1.02x."""
    import torch
    from torch import nn
    from torch.ao import quantization as tq

    torch.backends.quantized.engine = engine
    layers = list(copy.deepcopy(model))
    cut = [i for i, m in enumerate(layers) if isinstance(m, nn.Linear)][-pilotnet.INT8_FLOAT_TAIL]
    body, tail = nn.Sequential(*layers[1:cut]), nn.Sequential(*layers[cut:])
    pairs = [[str(i), str(i + 1)] for i, m in enumerate(body)
             if isinstance(m, (nn.Conv2d, nn.Linear)) and i + 1 < len(body) and isinstance(body[i + 1], nn.ReLU)]
    body = (tq.fuse_modules_qat(body.train(), pairs) if qat else tq.fuse_modules(body.eval(), pairs))
    net = nn.Sequential(layers[0], tq.QuantStub(), body, tq.DeQuantStub(), tail)
    net.qconfig = qconfig(qat)
    net[0].qconfig = net[4].qconfig = None
    return net


def export_static_int8(model, path: Path, calibration: Iterable[np.ndarray], engine: str = "x86") -> None:
    """Post-training static quantization: fuse, observe the calibration batches, convert."""
    import torch
    from torch.ao import quantization as tq
    prepared = tq.prepare(quantizable(model, engine).eval())
    with torch.no_grad():
        for batch in calibration:
            prepared(torch.from_numpy(batch))
    export_torchscript(tq.convert(prepared.eval()), path)


def export_qat_int8(model, path: Path, data: TuningSet, steps: int, engine: str = "x86", seed: int = 0,
                    progress: bool = True) -> None:
    """Quantization-aware training: fake-quantized fine-tuning from the trained weights, then convert.
    The observers track activation ranges for the first half of the steps and are frozen for the second."""
    from torch.ao import quantization as tq
    prepared = tq.prepare_qat(quantizable(model, engine, qat=True))
    finetune_torch(prepared, data, steps // 2, seed=seed, desc="torch QAT (observing)", progress=progress)
    prepared.apply(tq.disable_observer)
    finetune_torch(prepared, data, steps - steps // 2, seed=seed + 1, desc="torch QAT (frozen ranges)",
                   progress=progress)
    export_torchscript(tq.convert(prepared.eval()), path)


def prune(model, data: TuningSet, steps: int, amount: float, scope: str, seed: int = 0, progress: bool = True):
    """A copy of ``model`` with ``amount`` of its conv/linear weights zeroed by L1 magnitude, per layer
    (scope "local") or ranked across all layers ("global"), fine-tuned with the masks held, made permanent."""
    from torch.nn.utils import prune as torch_prune
    pruned = copy.deepcopy(model)
    params = [(m, "weight") for m in pruned if type(m).__name__ in PRUNABLE]
    if scope == "local":
        for module, name in params:
            torch_prune.l1_unstructured(module, name, amount=amount)
    elif scope == "global":
        torch_prune.global_unstructured(params, pruning_method=torch_prune.L1Unstructured, amount=amount)
    else:
        raise ValueError(f"pruning scope must be local or global, not {scope!r}")
    finetune_torch(pruned, data, steps, seed=seed, desc=f"torch {scope} pruning", progress=progress)
    for module, name in params:
        torch_prune.remove(module, name)
    return pruned.eval()


def sparsity(model) -> float:
    """Fraction of zero weights over the conv/linear layers."""
    weights = [m.weight.detach() for m in model if type(m).__name__ in PRUNABLE]
    return float(sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights))


def export_torch_tensorrt(model, path: Path, precision: str = "fp16") -> None:
    """Torch-TensorRT TorchScript module (needs torch_tensorrt and a CUDA GPU); loads in the torchscript
    backend with device cuda."""
    import torch
    import torch_tensorrt
    precisions = {"fp32": {torch.float32}, "fp16": {torch.float32, torch.float16}}[precision]
    example = torch_tensorrt.Input((1, 3, pilotnet.INPUT_HEIGHT, pilotnet.INPUT_WIDTH))
    compiled = torch_tensorrt.compile(copy.deepcopy(model).eval().cuda(), ir="ts", inputs=[example],
                                      enabled_precisions=precisions)
    torch.jit.save(compiled, str(path))
