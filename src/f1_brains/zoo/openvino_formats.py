"""OpenVINO IR of PilotNet shaped for matrix engines (AMX): uint8 pixels in, the first convolution over 2x2 blocks.

Measured on an AMX Xeon (one thread, batch 1; docs/results/offline.md has the bench), the int8 network spent about
a third of its time outside the arithmetic that matters:
- its first convolution (3 input channels, 5x5, stride 2: 75 products per output) suits AMX tiles poorly. The same
  function is a 3x3 convolution over the image's 2x2 blocks (12 channels, the kernel zero-padded to 6x6):
  ``space_to_depth_first_conv``. 76 -> 45 us (profiling on; docs/model_zoo.md).
- quantizing the float input and reordering it to NHWC: the IR takes the pixels as uint8 NHWC blocks (the card's
  ``dtype: uint8``, ``space_to_depth: 2``) and normalizes them itself; int8, its input quantization step is exactly
  1/255 with zero point 0, so the pixels are the quantized input and OpenVINO feeds them to the first convolution
  as they are. 23 us, and the node no longer converts the image to float.
- a batch-1 static shape (a dynamic batch timed slower in one-off timings, by a margin within this machine's noise).
- in bf16, the first dense layer (1164 x 1152) was a third of the time: batch 1 reads every weight once per frame,
  2.7 MB of bf16 that does not stay in L2. ``weight_only_int8`` stores the large dense layers' weights as int8
  (per output row, symmetric) that OpenVINO widens inside the layer (its FullyConnectedCompressed), activations float:
  118 -> 85 us for that layer (profiling on, hot cache), outputs within bf16 rounding of the float IR's.
- int8, the first dense layer is the largest part left (48 of ~134 us hot): ``first_dense_int4`` gives it int4
  weights in groups of 128 inputs (0.67 MB) and OpenVINO quantizes its input as it runs: one-off, quiet, one pinned
  core, 170.5 -> 147.0 us p50 per call, held-out MSE 0.953x the float model's (the int8 IR 0.969x).
Outputs equal the float network's within float rounding (fp32), within the int8 tolerance (int8).
"""
from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Iterable

import numpy as np

from ..core import pilotnet
from ..core.exports import ONNX_INPUT, export_onnx
from ..core.model_card import InputSpec, ModelCard
from .export import NCHW_CARD, NHWC_CARD
from .onnx_formats import export_onnx_int8

BLOCK = 2
PIXELS = "pixels"   # the IR's input
WEIGHT_ONLY_MIN = 100_000   # dense layers whose weights weight_only_int8 stores as int8: PilotNet's first two (1.46 M)
INT4_GROUP = 128            # inputs per int4 scale (dense_weights_int4); 64 measured 153 vs 147 us, MSE 0.947x vs 0.953x
# What the IR takes (its card's input), and the float tensors its int8 quantizer calibrates on.
PIXELS_CARD = dataclasses.replace(NHWC_CARD, dtype="uint8", space_to_depth=BLOCK)
CALIBRATION_CARD = dataclasses.replace(NCHW_CARD, space_to_depth=BLOCK)


def blocks_shape(card: InputSpec = CALIBRATION_CARD) -> tuple[int, int, int, int]:
    return ModelCard(input=card).input_shape


def space_to_depth_first_conv(model) -> "torch.nn.Sequential":  # noqa: F821
    """A copy of PilotNet, input BatchNorm folded, that takes the image as 2x2 blocks (ModelCard's space_to_depth
    order, NCHW): its 5x5 stride-2 first convolution becomes a 3x3 one over 12 channels. Exact up to float
    summation order: tap (ky, kx) of the old kernel is block tap (ky // 2, kx // 2), channel
    ((ky % 2) * 2 + kx % 2) * 3 + colour; the sixth row and column of the 6x6 kernel are zero."""
    import torch
    from torch import nn

    folded = pilotnet.fold_input_batchnorm(model)
    conv = folded[1]
    out, colours, k, _ = conv.weight.shape
    if conv.stride != (BLOCK, BLOCK) or conv.padding != (0, 0) or conv.dilation != (1, 1) or conv.groups != 1:
        raise ValueError(f"the first convolution (stride {conv.stride}, padding {conv.padding}) is not a plain "
                         f"stride-{BLOCK} one: it has no exact 2x2-block form")
    taps = -(-k // BLOCK)   # 3
    with torch.no_grad():
        padded = torch.zeros(out, colours, taps * BLOCK, taps * BLOCK)
        padded[:, :, :k, :k] = conv.weight
        # (out, colour, KY, row in block, KX, column in block) -> (out, row in block, column in block, colour, KY, KX)
        regrouped = padded.view(out, colours, taps, BLOCK, taps, BLOCK).permute(0, 3, 5, 1, 2, 4)
        blocks = nn.Conv2d(colours * BLOCK * BLOCK, out, taps)
        blocks.weight.copy_(regrouped.reshape(out, colours * BLOCK * BLOCK, taps, taps))
        blocks.bias.copy_(conv.bias)
    folded[1] = blocks
    return folded.eval()


def _take_pixels(onnx_path: Path, quantized: bool) -> None:
    """Rewrite the ONNX file in place: input ``pixels`` (uint8, batch-1 NHWC blocks) -> NCHW -> float -> /255, then the
    network; quantized, its input QuantizeLinear gets step 1/255 and zero point 0 (the pixels are its levels)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(onnx_path))
    graph = model.graph
    image = next(i for i in graph.input if i.name == ONNX_INPUT)
    if quantized:
        quantize = next(n for n in graph.node if n.op_type == "QuantizeLinear" and n.input[0] == ONNX_INPUT)
        initializers = {i.name: i for i in graph.initializer}
        initializers[quantize.input[1]].CopyFrom(numpy_helper.from_array(np.array(1 / 255, np.float32),
                                                                         quantize.input[1]))
        initializers[quantize.input[2]].CopyFrom(numpy_helper.from_array(np.array(0, np.uint8), quantize.input[2]))
    graph.initializer.append(numpy_helper.from_array(np.array(1 / 255, np.float32), "one_over_255"))
    for position, node in enumerate([
            helper.make_node("Transpose", [PIXELS], ["pixels_nchw"], perm=[0, 3, 1, 2]),
            helper.make_node("Cast", ["pixels_nchw"], ["pixels_float"], to=TensorProto.FLOAT),
            helper.make_node("Mul", ["pixels_float", "one_over_255"], [ONNX_INPUT])]):
        graph.node.insert(position, node)
    graph.input.remove(image)
    graph.input.insert(0, helper.make_tensor_value_info(PIXELS, TensorProto.UINT8, list(blocks_shape(PIXELS_CARD))))
    onnx.checker.check_model(model)
    onnx.save(model, str(onnx_path))


def _widened(weights: np.ndarray, bits: int, group: int | None = None):
    """``weights`` (out x in) as symmetric ``bits``-bit levels times one scale per output unit (``group`` None) or per
    ``group`` of its inputs, widened to f32 in the graph: the pattern OpenVINO's CPU plugin runs as a fully connected
    layer that decompresses its weights as it goes."""
    import openvino as ov
    import openvino.opset13 as ops

    out, inputs = weights.shape
    if group is not None and inputs % group:
        raise ValueError(f"{inputs} inputs do not split into groups of {group}")
    top = 2 ** (bits - 1) - 1
    grouped = weights.reshape(out, inputs // (group or inputs), group or inputs)
    scale = np.abs(grouped).max(axis=2, keepdims=True) / top
    scale[scale == 0] = 1.0
    levels = np.clip(np.round(grouped / scale), -top, top).astype(np.int8)
    if group is None:   # one scale per row: the 2-D pattern
        levels, scale = levels[:, 0, :], scale[:, 0, :]
    widened = ops.multiply(ops.convert(ops.constant(levels, dtype=ov.Type.i4 if bits == 4 else ov.Type.i8),
                                       ov.Type.f32), ops.constant(scale.astype(np.float32)))
    return widened if group is None else ops.reshape(widened, ops.constant(np.array([out, inputs], np.int64)),
                                                     special_zero=False)


def _dense_layers(ov_model) -> list:
    """The MatMul nodes of ``ov_model`` whose weights (input 1) are out x in (``transpose_b``, as ONNX Gemm gives)."""
    return [node for node in ov_model.get_ordered_ops() if node.get_type_name() == "MatMul"
            and node.get_attributes().get("transpose_b") and not node.get_attributes().get("transpose_a")]


def weight_only_int8(ov_model, min_weights: int = WEIGHT_ONLY_MIN) -> list[str]:
    """Store the weights of ``ov_model``'s dense layers (a constant of at least ``min_weights``) as int8, one symmetric
    scale per output unit, widened in the graph (``_widened``). Returns the layers' names."""
    compressed = []
    for node in _dense_layers(ov_model):
        source = node.input(1).get_source_output().get_node()
        if source.get_type_name() != "Constant" or int(np.prod(source.get_output_shape(0))) < min_weights:
            continue
        node.input(1).replace_source_output(_widened(source.get_data().astype(np.float32), 8).output(0))
        compressed.append(node.get_friendly_name())
    ov_model.validate_nodes_and_infer_types()
    return compressed


def dense_weights_int4(ov_model, weights: np.ndarray, group: int = INT4_GROUP) -> str:
    """Give the dense layer of ``ov_model`` whose weights are ``weights``' shape (out x in; the float weights, not its
    int8 copy) int4 weights, one symmetric scale per ``group`` inputs, widened in the graph. Returns its name."""
    layer = next((node for node in _dense_layers(ov_model)
                  if tuple(node.get_input_partial_shape(1).to_shape()) == weights.shape), None)
    if layer is None:
        raise ValueError(f"no dense layer with {weights.shape[0]} x {weights.shape[1]} weights")
    layer.input(1).replace_source_output(_widened(weights.astype(np.float32), 4, group).output(0))
    ov_model.validate_nodes_and_infer_types()
    return layer.get_friendly_name()


def export_openvino_pixels(model, xml_path: Path, calibration: Iterable[np.ndarray] | None = None,
                           dense_weights_int8: bool = False, first_dense_int4: bool = False) -> None:
    """PilotNet ``model`` as OpenVINO IR taking PIXELS_CARD's input: float32 weights, or int8 (QDQ, as
    onnx_formats.export_onnx_int8) when ``calibration`` (CALIBRATION_CARD tensors) is given; float with int8
    weights in the large dense layers (``dense_weights_int8``, weight_only_int8); ``first_dense_int4``: the first
    dense layer's weights int4 in groups (dense_weights_int4), its activations then quantized by OpenVINO as it runs."""
    import openvino as ov
    import torch

    blocks = space_to_depth_first_conv(model)
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = Path(tmp) / "pixels.onnx"
        if calibration is None:
            export_onnx(blocks, onnx_path, blocks_shape())
        else:
            export_onnx_int8(blocks, onnx_path, calibration, blocks_shape())
        _take_pixels(onnx_path, quantized=calibration is not None)
        ov_model = ov.convert_model(str(onnx_path))
        if dense_weights_int8 and not weight_only_int8(ov_model):
            raise ValueError(f"no dense layer of at least {WEIGHT_ONLY_MIN} weights to store as int8")
        if first_dense_int4:
            first = next(layer for layer in blocks if isinstance(layer, torch.nn.Linear))
            dense_weights_int4(ov_model, first.weight.detach().numpy())
        ov.save_model(ov_model, str(xml_path), compress_to_fp16=False)
