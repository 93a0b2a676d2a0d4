"""Bias correction for post-training int8 quantization of PilotNet.

Rounding a layer's weights to int8 leaves a fixed error E = Q(W) - W, and the layer's inputs (image pixels,
ReLU outputs) have a non-zero mean, so the layer's output is shifted by E @ mean(x) on every frame: a bias,
not noise. It passes through the network to the output. In the full-integer TFLite model that bias made most
of the int8 error (1.40x the float MSE, 1.09x with the mean output offset removed). Two corrections, both on
the float PyTorch model before it is converted (Nagel et al. 2019, "Data-Free Quantization Through Weight
Equalization and Bias Correction", here with measured input means):
- ``correct_weight_rounding``: each conv/linear layer's bias loses E @ mean(x), mean(x) being the layer's
  mean float input over calibration frames;
- ``bias_corrected``: converts, measures the mean output error left against the float model on the same
  frames, moves the output layer's bias by it and converts again.
"""
from __future__ import annotations

import copy
from typing import Callable, TypeVar

import numpy as np

Artifact = TypeVar("Artifact")
INT8_LEVELS = 127.0   # symmetric per-channel int8 weights: scale = max|w| / 127 (TFLite)


def _weight_layers(model) -> list:
    from torch import nn
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _forward(model, frames: np.ndarray, batch: int = 256) -> np.ndarray:
    import torch
    with torch.no_grad():
        return np.concatenate([model(torch.from_numpy(np.ascontiguousarray(frames[i:i + batch], dtype=np.float32)))
                               .numpy() for i in range(0, len(frames), batch)])


def layer_input_means(model, frames: np.ndarray) -> list:
    """Per conv/linear layer of ``model`` (in order), its mean float input over ``frames`` (NCHW), one
    (C, H, W) map for a conv, one vector for a linear layer."""
    layers = _weight_layers(model)
    sums: list = [0.0] * len(layers)

    def hook(i: int):
        def add(module, inputs, output) -> None:
            sums[i] = sums[i] + inputs[0].double().sum(0)
        return add

    handles = [layer.register_forward_hook(hook(i)) for i, layer in enumerate(layers)]
    try:
        _forward(model, frames)
    finally:
        for handle in handles:
            handle.remove()
    return [(s / len(frames)).float() for s in sums]


def rounding_error(weight, levels: float = INT8_LEVELS):
    """Q(W) - W for symmetric per-output-channel quantization, scale max|w| / ``levels``, integers clamped to
    [-ceil(levels), floor(levels)]: [-127, 127] for TFLite and ONNX Runtime, [-128, 127] for PyTorch's
    per-channel symmetric observer (levels 127.5)."""
    import math

    import torch
    reduce = tuple(range(1, weight.dim()))
    scale = weight.abs().amax(dim=reduce, keepdim=True) / levels
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))   # an all-zero (pruned) channel rounds exactly
    integers = torch.clamp(torch.round(weight / scale), -math.ceil(levels), math.floor(levels))
    return integers * scale - weight


def correct_weight_rounding(model, frames: np.ndarray):
    """A copy of ``model`` whose conv/linear biases cancel the mean output shift of int8 weight rounding."""
    import torch
    import torch.nn.functional as F
    from torch import nn
    corrected = copy.deepcopy(model).eval()
    means = layer_input_means(corrected, frames)   # of the uncorrected float function
    with torch.no_grad():
        for layer, mean in zip(_weight_layers(corrected), means):
            error = rounding_error(layer.weight)
            if isinstance(layer, nn.Linear):
                shift = error @ mean
            else:   # the bias is per channel: average the shift over output positions
                shift = F.conv2d(mean[None], error, stride=layer.stride, padding=layer.padding,
                                 dilation=layer.dilation, groups=layer.groups).mean((0, 2, 3))
            layer.bias -= shift
    return corrected


def shift_output_bias(model, shift: np.ndarray):
    """A copy of ``model`` whose last layer's bias is lowered by ``shift`` (one value per output)."""
    import torch
    shifted = copy.deepcopy(model).eval()
    last = _weight_layers(shifted)[-1]
    with torch.no_grad():
        last.bias -= torch.as_tensor(shift, dtype=last.bias.dtype)
    return shifted


def bias_corrected(model, frames: np.ndarray, convert: Callable[[object], Artifact],
                   predict: Callable[[Artifact, np.ndarray], np.ndarray]) -> Artifact:
    """``convert(m)`` (a quantized artifact of the PyTorch model ``m``) with both corrections applied, the
    means taken over ``frames`` (NCHW, preprocessed as at inference); ``predict(artifact, frames)`` runs it.
    The returned artifact is the second conversion."""
    reference = _forward(model.eval(), frames)
    corrected = correct_weight_rounding(model, frames)
    offset = (predict(convert(corrected), frames) - reference).mean(axis=0)
    return convert(shift_output_bias(corrected, offset))
