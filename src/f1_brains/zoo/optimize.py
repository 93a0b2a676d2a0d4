"""`f1-brains optimize`: every optimized variant of the trained PilotNet, each artifact with its card.

The base formats come from zoo.export (float TorchScript, ONNX, Keras, SavedModel, TFLite, and the
post-training int8 ones); the variants here add the other post-training conversions, the ones that
fine-tune from the trained weights on the training dataset (QAT, pruning, clustering) and the TensorRT
ones. Each variant starts from the trained model, never from another variant, except where its name
says it stacks (pruned_*, pqat, pcqat). Variants whose requirement is missing (TensorRT, a GPU) are
reported skipped with the reason; a variant that fails is reported and the others still run.
"""
from __future__ import annotations

import json
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..core.exports import export_keras, export_tflite
from ..core.model_card import InputSpec, ModelCard
from ..util.files import write_json_atomic
from . import export
from .export import (
    BASE,
    NCHW_CARD,
    NHWC_CARD,
    Variant,
    bias_correction_frames,
    calibration_batches,
    write_card,
)
from .finetune import TuningSet
from .openvino_formats import CALIBRATION_CARD, PIXELS_CARD, export_openvino_pixels

VARIANTS = {v.name: v for v in (
    Variant("tflite_dynamic", "pilotnet_dynamic.tflite", NHWC_CARD, "tflite", "int8-dynamic",
            "TFLite dynamic range (int8 weights, float activations)"),
    Variant("tflite_float16", "pilotnet_float16.tflite", NHWC_CARD, "tflite", "fp16", "TFLite float16 weights"),
    Variant("tflite_int8_fallback", "pilotnet_int8_fallback.tflite", NHWC_CARD, "tflite", "int8",
            "TFLite integer with float fallback (float input and output)"),
    Variant("tflite_qat", "pilotnet_qat.tflite", NHWC_CARD, "tflite", "int8", "TFLite quantization-aware training"),
    Variant("tflite_pruned", "pilotnet_pruned.tflite", NHWC_CARD, "tflite", "fp32",
            "TFLite magnitude pruning (50% of the large layers)"),
    Variant("tflite_pruned_dynamic", "pilotnet_pruned_dynamic.tflite", NHWC_CARD, "tflite", "int8-dynamic",
            "TFLite pruning + dynamic range quantization"),
    Variant("tflite_cqat", "pilotnet_cqat.tflite", NHWC_CARD, "tflite", "int8",
            "TFLite cluster-preserving QAT (64 clusters)"),
    Variant("tflite_pqat", "pilotnet_pqat.tflite", NHWC_CARD, "tflite", "int8", "TFLite sparsity-preserving QAT"),
    Variant("tflite_pcqat", "pilotnet_pcqat.tflite", NHWC_CARD, "tflite", "int8",
            "TFLite sparsity- and cluster-preserving QAT"),
    Variant("torch_qat_int8", "pilotnet_qat_int8.pt", NCHW_CARD, "pytorch", "int8-qat",
            "PyTorch quantization-aware training"),
    Variant("torch_pruned_local", "pilotnet_pruned_local.pt", NCHW_CARD, "pytorch", "fp32",
            "PyTorch L1 pruning, 50% of each layer"),
    Variant("torch_pruned_global", "pilotnet_pruned_global.pt", NCHW_CARD, "pytorch", "fp32",
            "PyTorch L1 pruning, 50% over all layers"),
    Variant("torch_pruned_static_int8", "pilotnet_pruned_static_int8.pt", NCHW_CARD, "pytorch", "int8-static",
            "PyTorch global pruning + static quantization"),
    Variant("onnx_int8", "pilotnet_int8.onnx", NCHW_CARD, "onnx", "int8",
            "ONNX Runtime static quantization (QDQ, per-channel; last 2 dense layers float)"),
    Variant("openvino_ir", "pilotnet_openvino.xml", PIXELS_CARD, "openvino", "fp32",
            "OpenVINO IR, uint8 pixels in, first convolution over 2x2 blocks (fp32 weights)"),
    Variant("openvino_int8_ir", "pilotnet_openvino_int8.xml", PIXELS_CARD, "openvino", "int8",
            "OpenVINO IR, uint8 pixels in, first convolution over 2x2 blocks, int8 QDQ as ONNX int8's"),
    Variant("openvino_wint8_ir", "pilotnet_openvino_wint8.xml", PIXELS_CARD, "openvino", "int8-weights",
            "OpenVINO IR, uint8 pixels in, first convolution over 2x2 blocks, large dense layers' weights int8"),
    Variant("openvino_int8_w4_ir", "pilotnet_openvino_int8_w4.xml", PIXELS_CARD, "openvino", "int8",
            "OpenVINO int8 IR, the first dense layer's weights int4 (groups of 128), its input quantized as it runs"),
    Variant("tf_trt_fp32", "pilotnet_tftrt_fp32", NHWC_CARD, "tensorflow", "fp32", "TF-TRT FP32 engines"),
    Variant("tf_trt_fp16", "pilotnet_tftrt_fp16", NHWC_CARD, "tensorflow", "fp16", "TF-TRT FP16 engines"),
    Variant("tf_trt_int8", "pilotnet_tftrt_int8", NHWC_CARD, "tensorflow", "int8", "TF-TRT INT8, calibrated"),
    Variant("torch_tensorrt_fp16", "pilotnet_trt_fp16.ts", NCHW_CARD, "pytorch", "fp16", "Torch-TensorRT FP16"),
)}
ALL = {**BASE, **VARIANTS}
TFMOT = {"tflite_qat": "qat", "tflite_pruned": "pruned", "tflite_pruned_dynamic": "pruned_dynamic",
         "tflite_cqat": "cqat", "tflite_pqat": "pqat", "tflite_pcqat": "pcqat"}
PRUNE_AMOUNT = 0.5


def missing_requirement(name: str) -> str | None:
    """Why variant ``name`` cannot be built here, or None."""
    if name.startswith(("tf_trt", "openvino")):
        from ..core.backends import backend_class
        return backend_class("tf_trt" if name.startswith("tf_trt") else "openvino").unavailable_reason()
    if name.startswith("torch_tensorrt"):
        import torch
        try:
            import torch_tensorrt  # noqa: F401
        except ImportError:
            return "torch_tensorrt is not installed (it needs TensorRT and a CUDA build of torch)"
        return None if torch.cuda.is_available() else "Torch-TensorRT needs a CUDA GPU; none is visible"
    return None


@dataclass
class Context:
    model: Any               # the trained PyTorch PilotNet, eval mode; never modified
    out: Path
    data: TuningSet | None   # fine-tuning and calibration frames
    steps: int
    seed: int
    progress: bool

    def calibration(self, layout: InputSpec, n: int = 256) -> list:
        return calibration_batches(layout, n, pixels=None if self.data is None else self.data.pixels)

    def needs_data(self) -> TuningSet:
        if self.data is None:
            raise ValueError("this variant fine-tunes: pass a training dataset (--data)")
        return self.data


def _build(v: Variant, ctx: Context, cache: dict[str, Any]) -> None:
    """Write variant ``v`` (not a base format, not tfmot) to ctx.out / v.file."""
    from . import onnx_formats, tflite_formats, torch_formats
    path = ctx.out / v.file
    if v.name == "tflite_int8_fallback":
        tflite_formats.export_tflite_int8(ctx.model, path, lambda: ctx.calibration(NHWC_CARD),
                                          bias_correction_frames(None if ctx.data is None else ctx.data.pixels),
                                          mode="int8_fallback")
    elif v.name in ("tflite_dynamic", "tflite_float16") or v.name.startswith("tf_trt"):
        if "saved_model" not in cache:
            cache["saved_model"] = Path(cache["tmp"]) / "savedmodel"
            export_keras(ctx.model, Path(cache["tmp"]) / "twin.keras", cache["saved_model"])
        if v.name.startswith("tf_trt"):
            from .tensorrt_formats import convert_tf_trt as convert
            precision = v.name.rsplit("_", 1)[1].upper()
            convert(cache["saved_model"], path, precision,
                    calibration=(lambda: ctx.calibration(NHWC_CARD, 64)) if precision == "INT8" else None)
        else:
            mode = {"tflite_dynamic": "dynamic", "tflite_float16": "float16"}
            export_tflite(cache["saved_model"], path, mode[v.name])
    elif v.name == "torch_qat_int8":
        torch_formats.export_qat_int8(ctx.model, path, ctx.needs_data(), ctx.steps, seed=ctx.seed, progress=ctx.progress)
    elif v.name.startswith("torch_pruned"):
        scope = "local" if v.name == "torch_pruned_local" else "global"
        if scope not in cache:
            cache[scope] = torch_formats.prune(ctx.model, ctx.needs_data(), ctx.steps, PRUNE_AMOUNT, scope,
                                               seed=ctx.seed, progress=ctx.progress)
        if v.name.endswith("static_int8"):
            torch_formats.export_static_int8(cache[scope], path, ctx.calibration(NCHW_CARD))
        else:
            torch_formats.export_torchscript(cache[scope], path)
    elif v.name == "onnx_int8":
        onnx_formats.export_onnx_int8(ctx.model, path, ctx.calibration(NCHW_CARD))
    elif v.name.startswith("openvino"):
        quantized = v.name in ("openvino_int8_ir", "openvino_int8_w4_ir")
        export_openvino_pixels(ctx.model, path, ctx.calibration(CALIBRATION_CARD) if quantized else None,
                               dense_weights_int8=v.name == "openvino_wint8_ir",
                               first_dense_int4=v.name == "openvino_int8_w4_ir")
    elif v.name == "torch_tensorrt_fp16":
        torch_formats.export_torch_tensorrt(ctx.model, path, "fp16")
    else:
        raise ValueError(f"no recipe for variant {v.name!r}")


@dataclass
class Ledger:
    """What one optimize run did, variant by variant: cards written beside the artifacts, lines logged, the report
    that optimize.json keeps."""
    out: Path
    trained: ModelCard       # preprocessing and output ranges the weights were trained for
    provenance: dict
    log: Callable[[str], None]
    report: dict[str, dict[str, Any]] = field(default_factory=dict)

    def record(self, v: Variant, seconds: float | None) -> None:
        """seconds: None for the base formats, which zoo.export writes together (timed as a group)."""
        write_card(self.out / v.file, v, self.trained, {**self.provenance, "format": v.name, "method": v.method})
        self.report[v.name] = {"status": "written", "path": str(self.out / v.file),
                               "seconds": None if seconds is None else round(seconds, 1)}
        self.log(f"{v.name:26s} written{'' if seconds is None else f' in {seconds:.1f} s'}: {self.out / v.file}")

    def skip(self, name: str, reason: str) -> None:
        self.report[name] = {"status": "skipped", "reason": reason}
        self.log(f"{name:26s} skipped: {reason}")

    def fail(self, name: str, error: BaseException) -> None:
        self.report[name] = {"status": "failed", "reason": f"{type(error).__name__}: {error}",
                             "traceback": "".join(traceback.format_exception(error))}
        self.log(f"{name:26s} FAILED: {self.report[name]['reason']}")

    def build(self, v: Variant, recipe: Callable[[], None]) -> None:
        """Run one variant's recipe; a broken recipe is recorded and must not cost the others."""
        t0 = time.perf_counter()
        try:
            recipe()
            self.record(v, time.perf_counter() - t0)
        except Exception as e:
            self.fail(v.name, e)

    def tfmot(self, twin: Callable[[], Any], data: TuningSet | None, names: list[str], steps: int, seed: int,
              progress: bool) -> None:
        """The tfmot variants among ``names``, made from the tf_keras models ``twin`` returns."""
        wanted = {TFMOT[n]: self.out / VARIANTS[n].file for n in names if n in TFMOT}
        if not wanted:
            return
        if data is None:
            for name in [n for n in names if n in TFMOT]:
                self.skip(name, "this variant fine-tunes: pass a training dataset (--data)")
            return
        from .tflite_formats import tfmot_variants
        results = tfmot_variants(twin, data, wanted, steps, seed, progress)
        for name in [n for n in names if n in TFMOT]:
            error, seconds = results[TFMOT[name]]
            if error is None:
                self.record(VARIANTS[name], seconds)
            else:
                self.fail(name, error)

    def write(self, base_seconds: float | None) -> dict[str, dict[str, Any]]:
        write_json_atomic(self.out / "optimize.json",
                          _merged(self.out / "optimize.json", self.provenance, base_seconds, self.report))
        return self.report


def _check_names(names: list[str], out_dir: str | Path) -> Path:
    unknown = [n for n in names if n not in ALL]
    if unknown:
        raise ValueError(f"unknown variants {unknown}; known: {', '.join(ALL)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return out


def optimize(model, out_dir: str | Path, names: list[str], data: TuningSet | None, steps: int = 600,
             seed: int = 0, provenance: dict | None = None, trained: ModelCard = ModelCard(),
             progress: bool = True, log: Callable[[str], None] = lambda s: print(s, file=sys.stderr)
             ) -> dict[str, dict[str, Any]]:
    """Build the variants ``names`` of ``model`` under ``out_dir``; per variant: status written / skipped /
    failed, with the path, the seconds taken, or the reason. Writes optimize.json there."""
    import tempfile
    out = _check_names(names, out_dir)
    ctx = Context(model.eval(), out, data, steps, seed, progress)
    ledger = Ledger(out, trained, {**(provenance or {}), "fine_tune_steps": steps, "seed": seed}, log)
    base, base_seconds = [n for n in names if n in BASE], None
    if base:
        t0 = time.perf_counter()
        export.export_all(ctx.model, out, base, ledger.provenance, trained=trained,
                          calibration_pixels=None if data is None else data.pixels)
        base_seconds = round(time.perf_counter() - t0, 1)
        log(f"base formats ({', '.join(base)}) exported in {base_seconds:.1f} s")
        for n in base:   # export_all wrote their cards; rewrite them with the method line
            ledger.record(BASE[n], None)
    with tempfile.TemporaryDirectory() as tmp:
        cache: dict[str, Any] = {"tmp": tmp}
        for name in [n for n in names if n in VARIANTS and n not in TFMOT]:
            reason = missing_requirement(name)
            if reason:
                ledger.skip(name, reason)
            else:
                ledger.build(VARIANTS[name], lambda v=VARIANTS[name]: _build(v, ctx, cache))
    from .tflite_formats import torch_twin
    ledger.tfmot(torch_twin(ctx.model), data, names, steps, seed, progress)
    return ledger.write(base_seconds if set(base) == set(BASE) else None)   # a subset's time is not the export's


# The variants of a Keras model (DeepLearningStudio's TF PilotNet): post-training TFLite modes, and tfmot's.
KERAS_PTQ = {"tflite": "float32", "tflite_dynamic": "dynamic", "tflite_float16": "float16", "tflite_int8": "int8",
             "tflite_int8_fallback": "int8_fallback"}


def optimize_keras(keras_path: str | Path, out_dir: str | Path, names: list[str], data_dirs: list[str] | None,
                   steps: int = 600, seed: int = 0, provenance: dict | None = None, progress: bool = True,
                   log: Callable[[str], None] = lambda s: print(s, file=sys.stderr)) -> dict[str, dict[str, Any]]:
    """The TFLite and tfmot variants of DeepLearningStudio's own TF PilotNet (``keras_path``, zoo.dls_keras), each
    declaring and carded with the orientation and preprocessing it was trained on, calibrated and fine-tuned on
    ``data_dirs`` read that way (DeepLearningStudio folders of whole frames). PyTorch and ONNX variants are skipped:
    they are made from PilotNet weights (--weights). Writes optimize.json like ``optimize``."""
    import tempfile

    from .dls_keras import DLSKerasPilotNet
    from .tflite_formats import tf_keras
    out = _check_names(names, out_dir)
    net = DLSKerasPilotNet.load(keras_path)
    trained = net.card()
    data = TuningSet.load(data_dirs, trained.output, trained.input) if data_dirs else None
    prov = {**(provenance or {}), "keras": str(keras_path), "declared_input": list(net.declared),
            "fine_tune_steps": steps, "seed": seed}
    ledger = Ledger(out, trained, prov, log)
    variants = {**BASE, **VARIANTS}
    for name in [n for n in names if n not in KERAS_PTQ and n not in TFMOT]:
        ledger.skip(name, "not made from a Keras model: PyTorch, ONNX and TF-TRT variants need --weights")
    calibration = lambda: calibration_batches(trained.input, 256, pixels=None if data is None else data.pixels)  # noqa: E731
    with tempfile.TemporaryDirectory() as tmp:
        net.as_trained().export(tmp, verbose=False)
        for name in [n for n in names if n in KERAS_PTQ]:
            ledger.build(variants[name], lambda n=name: export_tflite(Path(tmp), out / variants[n].file, KERAS_PTQ[n],
                                                                       calibration))
    ledger.tfmot(lambda: net.as_trained(tf_keras()), data, names, steps, seed, progress)
    return ledger.write(None)


def _merged(path: Path, provenance: dict, base_seconds: float | None, report: dict) -> dict:
    """optimize.json: this run's variants over the previous file's other variants when both runs had the same
    provenance (weights, data, steps, seed), so rebuilding a subset keeps the record of the rest."""
    previous = json.loads(path.read_text()) if path.is_file() else {}
    if previous.get("provenance") != provenance:
        previous = {}
    return {"provenance": provenance,   # base formats: one export, timed together
            "base_formats_seconds": base_seconds if base_seconds is not None else previous.get("base_formats_seconds"),
            "variants": {**previous.get("variants", {}), **report}}
