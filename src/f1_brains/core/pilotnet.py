"""PilotNet, the reference network, defined once in PyTorch, with an exact Keras twin.

The PyTorch module follows DeepLearningStudio's PilotNet (its Formula1-FollowLine PyTorch model): BatchNorm on the
input, five valid-padded ReLU convolutions, four ReLU dense layers and a linear (v, w) head, input
NCHW 1x3x66x200, 1,595,528 parameters. ``keras_twin`` builds the same function in Keras (NHWC) and
copies the weights, so every backend runs one function and differences come only from optimization.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

INPUT_HEIGHT, INPUT_WIDTH = 66, 200
BATCHNORM_EPS = 1e-3
# (out_channels, kernel, stride) of the five convolutions; dense widths after flattening.
CONVS = ((24, 5, 2), (36, 5, 2), (48, 5, 2), (64, 3, 1), (64, 3, 1))
DENSE = (1164, 100, 50, 10)
OUTPUTS = 2
# The int8 variants (ONNX Runtime, PyTorch static and QAT, tfmot QAT) keep the last dense layers float: the
# int8 error concentrates there, and they hold 520 of the 1.6M weights. ONNX int8 on the test set: all int8
# 1.42x the float MSE, output layer float 1.15x, it and the 10-unit layer before it 1.04x. TFLite full
# integer cannot leave layers float; it is bias-corrected instead (zoo.bias_correction).
INT8_FLOAT_TAIL = 2


def _conv_output_hw() -> tuple[int, int]:
    h, w = INPUT_HEIGHT, INPUT_WIDTH
    for _, k, s in CONVS:
        h, w = (h - k) // s + 1, (w - k) // s + 1
    return h, w


def torch_pilotnet(seed: int | None = 0) -> "torch.nn.Module":
    """A fresh PyTorch PilotNet in eval mode; ``seed`` makes the initial weights reproducible."""
    import torch
    from torch import nn

    if seed is not None:
        torch.manual_seed(seed)
    layers: list[nn.Module] = [nn.BatchNorm2d(3, eps=BATCHNORM_EPS)]
    channels = 3
    for out, k, s in CONVS:
        layers += [nn.Conv2d(channels, out, k, stride=s), nn.ReLU()]
        channels = out
    layers.append(nn.Flatten())
    h, w = _conv_output_hw()
    width = channels * h * w
    for units in DENSE:
        layers += [nn.Linear(width, units), nn.ReLU()]
        width = units
    layers.append(nn.Linear(width, OUTPUTS))
    model = nn.Sequential(*layers)
    # A fresh BatchNorm has identity statistics; give it realistic ones so exports are not trivial.
    with torch.no_grad():
        bn = model[0]
        bn.running_mean.copy_(torch.tensor([0.45, 0.40, 0.38]))
        bn.running_var.copy_(torch.tensor([0.07, 0.06, 0.065]))
    return model.eval()


def fold_input_batchnorm(model: "torch.nn.Module") -> "torch.nn.Module":
    """A copy of ``model`` with the input BatchNorm folded into the first convolution (an Identity in its
    place). Exact because that convolution has no padding: every tap sees a normalized pixel. Quantizers
    (TFLite QAT, eager PyTorch, ONNX Runtime) handle a BatchNorm only after a convolution, not before."""
    import copy

    import torch
    from torch import nn

    folded = copy.deepcopy(model).eval()
    bn, conv = folded[0], folded[1]
    if isinstance(bn, nn.Identity):
        return folded
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    shift = bn.bias - bn.running_mean * scale
    with torch.no_grad():
        conv.bias += (conv.weight * shift[None, :, None, None]).sum((1, 2, 3))
        conv.weight *= scale[None, :, None, None]
    folded[0] = nn.Identity()
    return folded


def keras_pilotnet(keras, height: int = INPUT_HEIGHT, width: int = INPUT_WIDTH, padding: str = "valid",
                   batchnorm: bool = True):
    """PilotNet's layers in Keras (NHWC) for ``height`` x ``width`` images, untrained: ours ('valid' padding), or with
    'same' padding DeepLearningStudio's TF PilotNet (17.0M parameters at 66x200)."""
    inputs = keras.Input((height, width, 3), name="image")
    x = inputs
    if batchnorm:
        x = keras.layers.BatchNormalization(epsilon=BATCHNORM_EPS, name="input_norm")(x)
    for i, (out, k, s) in enumerate(CONVS):
        x = keras.layers.Conv2D(out, k, strides=s, padding=padding, activation="relu", name=f"conv{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    for i, units in enumerate(DENSE):
        x = keras.layers.Dense(units, activation="relu", name=f"dense{i}")(x)
    return keras.Model(inputs, keras.layers.Dense(OUTPUTS, name="vw")(x), name="pilotnet")


def keras_twin(model: "torch.nn.Module", keras=None):
    """A Keras (NHWC) model computing exactly what the PyTorch PilotNet ``model`` computes. ``keras``: the
    Keras module to build with (default Keras 3; tf_keras for tensorflow-model-optimization)."""
    from torch import nn

    if keras is None:
        import keras
    torch_layers = [m for m in model if not isinstance(m, (nn.ReLU, nn.Flatten))]
    bn, convs, denses = torch_layers[0], torch_layers[1:6], torch_layers[6:]
    twin = keras_pilotnet(keras, batchnorm=not isinstance(bn, nn.Identity))   # folded models have no BatchNorm

    def arr(t) -> np.ndarray:
        return t.detach().cpu().numpy()

    if not isinstance(bn, nn.Identity):
        twin.get_layer("input_norm").set_weights(
            [arr(bn.weight), arr(bn.bias), arr(bn.running_mean), arr(bn.running_var)])
    for i, conv in enumerate(convs):  # torch OIHW -> keras HWIO
        twin.get_layer(f"conv{i}").set_weights([arr(conv.weight).transpose(2, 3, 1, 0), arr(conv.bias)])
    # Torch flattens (C, H, W), Keras flattens (H, W, C): reorder the first dense layer's inputs.
    h, w = _conv_output_hw()
    c = CONVS[-1][0]
    first = arr(denses[0].weight).reshape(-1, c, h, w).transpose(0, 2, 3, 1).reshape(-1, c * h * w)
    twin.get_layer("dense0").set_weights([first.T, arr(denses[0].bias)])
    for i, dense in enumerate(denses[1:-1], start=1):
        twin.get_layer(f"dense{i}").set_weights([arr(dense.weight).T, arr(dense.bias)])
    twin.get_layer("vw").set_weights([arr(denses[-1].weight).T, arr(denses[-1].bias)])
    return twin
