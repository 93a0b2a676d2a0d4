"""Write one PyTorch PilotNet to every format a backend here can run, each artifact with its card.

Formats: TorchScript (fp32), dynamic- and static-int8 quantized TorchScript, ONNX, Keras (.keras and a
SavedModel directory) and TFLite (float32 and full-integer int8 I/O). The Keras formats come from the
exact twin (core.pilotnet.keras_twin); quantized formats calibrate on correctly preprocessed frames.
The writers live in torch_formats, onnx_formats and tflite_formats; zoo.optimize adds the variants
that need training data or other hardware.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable

import numpy as np

from ..core.exports import export_keras, export_onnx, export_tflite
from ..core.model_card import InputSpec, ModelCard
from ..core.synthetic import road_frames
from .tflite_formats import export_tflite_int8
from .torch_formats import export_dynamic_int8, export_static_int8, export_torchscript

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

NCHW_CARD = InputSpec(layout="NCHW")
NHWC_CARD = InputSpec(layout="NHWC")
BIAS_CORRECTION_FRAMES, SYNTHETIC_BIAS_CORRECTION_FRAMES = 2048, 256


def calibration_batches(card_input: InputSpec, n: int = 64, seed: int = 1,
                        pixels: np.ndarray | None = None) -> list[np.ndarray]:
    """Batch-1 inputs preprocessed exactly as at inference (the seeds calibrated on raw pixels): ``n``
    frames sampled from a dataset's ``pixels`` (crop_resize outputs), else synthetic road frames."""
    card = ModelCard(input=card_input)
    if pixels is None:
        return [card.preprocess(frame) for frame in road_frames(n, seed)]
    picks = np.sort(np.random.default_rng(seed).choice(len(pixels), size=min(n, len(pixels)), replace=False))
    return [card.to_tensor(pixels[i:i + 1]) for i in picks]


def bias_correction_frames(pixels: np.ndarray | None = None) -> np.ndarray:
    """NCHW frames (one array) for int8 bias correction, sampled like ``calibration_batches``: 2048 dataset
    frames (the correction subtracts means, which need more frames than ranges), or 256 synthetic ones
    (slow to draw, so fewer)."""
    n = BIAS_CORRECTION_FRAMES if pixels is not None else SYNTHETIC_BIAS_CORRECTION_FRAMES
    return np.concatenate(calibration_batches(NCHW_CARD, n, seed=2, pixels=pixels))


def write_card(path: Path, variant: "Variant", trained: ModelCard, provenance: dict) -> None:
    """The card of one artifact: the trained network's preprocessing and outputs (``trained``) in the variant's
    layout, input dtype and blocks, framework and precision."""
    takes = variant.layout
    ModelCard(name=path.name, framework=variant.framework, precision=variant.precision,
              input=replace(trained.input, layout=takes.layout, dtype=takes.dtype, space_to_depth=takes.space_to_depth),
              output=trained.output,
              provenance=provenance).save(path.with_name(path.name + ".card.yaml") if path.is_file()
                                          else path / "card.yaml")


@dataclass(frozen=True)
class Variant:
    name: str
    file: str              # artifact under the output directory
    layout: InputSpec
    framework: str
    precision: str
    method: str            # one line for the card and the tables


# The base formats, written by export_all; optimize adds its variants to this table.
BASE = {
    "torchscript": Variant("torchscript", "pilotnet.pt", NCHW_CARD, "pytorch", "fp32", "TorchScript, frozen"),
    "torch_dynamic_int8": Variant("torch_dynamic_int8", "pilotnet_dynamic_int8.pt", NCHW_CARD, "pytorch",
                                  "int8-dynamic", "dynamic quantization of the dense layers"),
    "torch_static_int8": Variant("torch_static_int8", "pilotnet_static_int8.pt", NCHW_CARD, "pytorch",
                                 "int8-static", "post-training static quantization, fused, calibrated"),
    "onnx": Variant("onnx", "pilotnet.onnx", NCHW_CARD, "pytorch", "fp32", "ONNX export"),
    "keras": Variant("keras", "pilotnet.keras", NHWC_CARD, "keras", "fp32", "Keras twin"),
    "saved_model": Variant("saved_model", "pilotnet_savedmodel", NHWC_CARD, "tensorflow", "fp32", "SavedModel"),
    "tflite": Variant("tflite", "pilotnet.tflite", NHWC_CARD, "tflite", "fp32", "TFLite float32"),
    "tflite_int8": Variant("tflite_int8", "pilotnet_int8.tflite", NHWC_CARD, "tflite", "int8",
                           "TFLite full integer, int8 input and output"),
}
FORMATS = tuple(BASE)


def export_all(model, out_dir: str | Path, formats: Iterable[str] = FORMATS, provenance: dict | None = None,
               calibration_frames: int = 256, trained: ModelCard = ModelCard(),
               calibration_pixels: np.ndarray | None = None) -> dict[str, Path]:
    """Write the chosen formats of ``model`` (a PyTorch PilotNet) under ``out_dir``; return their paths.
    ``trained``: the card the weights were trained for (preprocessing, how outputs map to (v, w)), from
    ``train.load_pilotnet``. ``calibration_pixels``: dataset frames for int8 calibration (else synthetic frames)."""
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

    def at(fmt: str) -> Path:
        return out / BASE[fmt].file

    def done(fmt: str, path: Path | None = None) -> None:
        v = BASE[fmt]
        path = path or at(fmt)
        write_card(path, v, trained, {**prov, "format": fmt})
        paths[fmt] = path

    if "torchscript" in formats:
        export_torchscript(model, at("torchscript"))
        done("torchscript")
    if "torch_dynamic_int8" in formats:
        export_dynamic_int8(model, at("torch_dynamic_int8"))
        done("torch_dynamic_int8")
    if "torch_static_int8" in formats:
        export_static_int8(model, at("torch_static_int8"), nchw_calibration())
        done("torch_static_int8")
    if "onnx" in formats:
        export_onnx(model, at("onnx"))
        done("onnx")
    if {"keras", "saved_model", "tflite"} & set(formats):
        scratch = Path(tempfile.mkdtemp())   # for the Keras files not asked for, so no shipped one is replaced
        keras_path = at("keras") if "keras" in formats else scratch / "pilotnet.keras"
        saved_model = at("saved_model") if "saved_model" in formats else scratch / "sm"
        export_keras(model, keras_path, saved_model)
        for fmt in ("keras", "saved_model"):
            if fmt in formats:
                done(fmt)
        if "tflite" in formats:
            export_tflite(saved_model, at("tflite"))
            done("tflite")
        shutil.rmtree(scratch)
    if "tflite_int8" in formats:
        export_tflite_int8(model, at("tflite_int8"), nhwc_calibration, bias_correction_frames(calibration_pixels))
        done("tflite_int8")
    return paths
