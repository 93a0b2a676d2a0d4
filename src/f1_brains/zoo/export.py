"""Write one PyTorch PilotNet to every format a backend here can run, each artifact with its card.

Formats: TorchScript (fp32), dynamic- and static-int8 quantized TorchScript, ONNX, Keras (.keras and a
SavedModel directory) and TFLite (float32 and full-integer int8 I/O). The Keras formats come from the
exact twin (zoo.pilotnet.keras_twin); quantized formats calibrate on correctly preprocessed frames.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..model_card import InputSpec, ModelCard, OutputSpec
from ..synthetic import road_frames
from . import pilotnet

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

NCHW_CARD = InputSpec(layout="NCHW")
NHWC_CARD = InputSpec(layout="NHWC")


def calibration_batches(card_input: InputSpec, n: int = 64, seed: int = 1,
                        pixels: np.ndarray | None = None) -> list[np.ndarray]:
    """Batch-1 inputs preprocessed exactly as at inference (the seeds calibrated on raw pixels): ``n``
    frames sampled from a dataset's ``pixels`` (crop_resize outputs), else synthetic road frames."""
    card = ModelCard(input=card_input)
    if pixels is None:
        return [card.preprocess(frame) for frame in road_frames(n, seed)]
    picks = np.sort(np.random.default_rng(seed).choice(len(pixels), size=min(n, len(pixels)), replace=False))
    return [card.to_tensor(pixels[i:i + 1]) for i in picks]


def _card(path: Path, layout: InputSpec, framework: str, precision: str, provenance: dict,
          output: OutputSpec) -> None:
    ModelCard(name=path.name, framework=framework, precision=precision, input=layout, output=output,
              provenance=provenance).save(path.with_name(path.name + ".card.yaml") if path.is_file()
                                          else path / "card.yaml")


def export_torchscript(model, path: Path) -> None:
    import torch
    example = torch.zeros(1, 3, pilotnet.INPUT_HEIGHT, pilotnet.INPUT_WIDTH)
    with torch.no_grad():
        torch.jit.trace(model, example).save(str(path))


def export_dynamic_int8(model, path: Path) -> None:
    import copy

    import torch
    from torch.ao.quantization import quantize_dynamic
    quantized = quantize_dynamic(copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8)
    export_torchscript(quantized, path)


def export_static_int8(model, path: Path, calibration: Iterable[np.ndarray], engine: str = "x86") -> None:
    """Post-training static quantization (eager mode): fuse conv/linear+relu, observe, convert."""
    import copy

    import torch
    from torch import nn
    from torch.ao import quantization as tq

    torch.backends.quantized.engine = engine
    layers = list(copy.deepcopy(model))
    fuse = [[str(i), str(i + 1)] for i, m in enumerate(layers)
            if isinstance(m, (nn.Conv2d, nn.Linear)) and i + 1 < len(layers) and isinstance(layers[i + 1], nn.ReLU)]
    # BatchNorm on the raw input cannot be fused into a following conv through the quant stub; it stays float.
    body = tq.fuse_modules(nn.Sequential(*layers[1:]).eval(), [[str(int(a) - 1), str(int(b) - 1)] for a, b in fuse])
    net = nn.Sequential(layers[0], tq.QuantStub(), body, tq.DeQuantStub()).eval()
    net.qconfig = tq.get_default_qconfig(engine)
    net[0].qconfig = None
    prepared = tq.prepare(net)
    with torch.no_grad():
        for batch in calibration:
            prepared(torch.from_numpy(batch))
    export_torchscript(tq.convert(prepared), path)


def export_onnx(model, path: Path) -> None:
    import torch
    example = torch.zeros(1, 3, pilotnet.INPUT_HEIGHT, pilotnet.INPUT_WIDTH)
    torch.onnx.export(model, (example,), str(path), input_names=["image"], output_names=["vw"],
                      dynamic_axes={"image": {0: "batch"}, "vw": {0: "batch"}}, opset_version=17,
                      dynamo=False)


def export_keras(model, keras_path: Path, saved_model_dir: Path) -> None:
    twin = pilotnet.keras_twin(model)
    twin.save(str(keras_path))
    twin.export(str(saved_model_dir), verbose=False)


def export_tflite(saved_model_dir: Path, path: Path,
                  calibration: Callable[[], Iterable[np.ndarray]] | None = None) -> None:
    """Float32 TFLite, or full-integer (int8 input and output) when ``calibration`` is given."""
    import tensorflow as tf
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir))
    if calibration is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([b] for b in calibration())
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    path.write_bytes(converter.convert())


# Every format, by file name: (writer, card layout, framework, precision).
FORMATS = ("torchscript", "torch_dynamic_int8", "torch_static_int8", "onnx", "keras", "saved_model",
           "tflite", "tflite_int8")


def export_all(model, out_dir: str | Path, formats: Iterable[str] = FORMATS, provenance: dict | None = None,
               calibration_frames: int = 256, output: OutputSpec = OutputSpec(),
               calibration_pixels: np.ndarray | None = None) -> dict[str, Path]:
    """Write the chosen formats of ``model`` (a PyTorch PilotNet) under ``out_dir``; return their paths.
    ``output``: how the network's outputs map to (v, w), from its training card. ``calibration_pixels``:
    dataset frames for int8 calibration (else synthetic frames)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    formats = list(formats)
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown formats {sorted(unknown)}; known: {FORMATS}")
    prov = dict(provenance or {})
    paths: dict[str, Path] = {}
    nchw_calibration = lambda: calibration_batches(NCHW_CARD, calibration_frames, pixels=calibration_pixels)  # noqa: E731
    nhwc_calibration = lambda: calibration_batches(NHWC_CARD, calibration_frames, pixels=calibration_pixels)  # noqa: E731

    def done(fmt: str, path: Path, layout: InputSpec, framework: str, precision: str) -> None:
        _card(path, layout, framework, precision, {**prov, "format": fmt}, output)
        paths[fmt] = path

    if "torchscript" in formats:
        export_torchscript(model, out / "pilotnet.pt")
        done("torchscript", out / "pilotnet.pt", NCHW_CARD, "pytorch", "fp32")
    if "torch_dynamic_int8" in formats:
        export_dynamic_int8(model, out / "pilotnet_dynamic_int8.pt")
        done("torch_dynamic_int8", out / "pilotnet_dynamic_int8.pt", NCHW_CARD, "pytorch", "int8-dynamic")
    if "torch_static_int8" in formats:
        export_static_int8(model, out / "pilotnet_static_int8.pt", nchw_calibration())
        done("torch_static_int8", out / "pilotnet_static_int8.pt", NCHW_CARD, "pytorch", "int8-static")
    if "onnx" in formats:
        export_onnx(model, out / "pilotnet.onnx")
        done("onnx", out / "pilotnet.onnx", NCHW_CARD, "pytorch", "fp32")
    needs_saved_model = {"saved_model", "tflite", "tflite_int8"} & set(formats)
    if "keras" in formats or needs_saved_model:
        saved_model = out / "pilotnet_savedmodel" if "saved_model" in formats else Path(tempfile.mkdtemp()) / "sm"
        export_keras(model, out / "pilotnet.keras", saved_model)
        if "keras" in formats:
            done("keras", out / "pilotnet.keras", NHWC_CARD, "keras", "fp32")
        else:
            (out / "pilotnet.keras").unlink()
        if "saved_model" in formats:
            done("saved_model", saved_model, NHWC_CARD, "tensorflow", "fp32")
        if "tflite" in formats:
            export_tflite(saved_model, out / "pilotnet.tflite")
            done("tflite", out / "pilotnet.tflite", NHWC_CARD, "tflite", "fp32")
        if "tflite_int8" in formats:
            export_tflite(saved_model, out / "pilotnet_int8.tflite", nhwc_calibration)
            done("tflite_int8", out / "pilotnet_int8.tflite", NHWC_CARD, "tflite", "int8")
    return paths
