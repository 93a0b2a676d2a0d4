"""TFLite artifacts of PilotNet: post-training conversions and tensorflow-model-optimization recipes.

Post-training (``export_tflite`` modes): float32, dynamic range (int8 weights, float activations),
float16 weights, full integer (int8 input and output) and integer with float fallback (float I/O).
Training recipes (tfmot, on the tf_keras twin of the folded PilotNet, fine-tuned from the trained
weights): QAT, magnitude pruning, and the collaborative CQAT (clustering preserved), PQAT (sparsity
preserved) and PCQAT (both). tfmot only supports Keras 2, hence tf_keras here and Keras 3 elsewhere.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from . import pilotnet
from .finetune import TuningSet

TFLITE_MODES = ("float32", "dynamic", "float16", "int8", "int8_fallback", "qat")
SPARSITY = 0.5          # magnitude pruning target
CLUSTERS = 16           # weight clusters per layer
# The PyTorch recipes moved to 2e-5 with cosine decay (finetune.FINETUNE_LR), which took global pruning from
# 1.50x to 1.06x the float MSE; the tfmot recipes still fine-tune at 1e-4 and lose 3-5x (issue 5).
TFMOT_LR = 1e-4


def export_tflite(saved_model_dir: Path, path: Path, mode: str = "float32",
                  calibration: Callable[[], Iterable[np.ndarray]] | None = None) -> None:
    """Convert a SavedModel. ``calibration`` (NHWC batches) is needed by int8 and int8_fallback; qat takes
    its ranges from the model's fake-quantization nodes."""
    import tensorflow as tf
    if mode not in TFLITE_MODES:
        raise ValueError(f"TFLite mode must be one of {TFLITE_MODES}, not {mode!r}")
    if mode in ("int8", "int8_fallback") and calibration is None:
        raise ValueError(f"TFLite {mode} needs calibration batches")
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir))
    if mode != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if mode in ("int8", "int8_fallback"):
        converter.representative_dataset = lambda: ([b] for b in calibration())
    if mode == "int8":
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    path.write_bytes(converter.convert())


def tf_keras():
    """Keras 2 as tensorflow-model-optimization uses it."""
    from tensorflow_model_optimization.python.core.keras.compat import keras
    return keras


def _fit(model, data: TuningSet, steps: int, seed: int, lr: float = TFMOT_LR, callbacks: list | None = None,
         progress: bool = True) -> None:
    """Adam on the MSE at a constant ``lr`` (the shipped tfmot variants were made so; see TFMOT_LR)."""
    keras = tf_keras()
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="mse")
    model.fit(data.batches(steps, seed=seed, layout="NHWC"), steps_per_epoch=steps, epochs=1,
              callbacks=callbacks or [], verbose=1 if progress else 0)


def _save_tflite(model, path: Path, mode: str) -> None:
    """tf_keras model -> SavedModel (temporary) -> TFLite, so every TFLite file goes through one converter."""
    import tensorflow as tf
    with tempfile.TemporaryDirectory() as tmp:
        tf.saved_model.save(model, tmp)
        export_tflite(Path(tmp), path, mode)


def _copy(model):
    """An independent copy (tfmot wrappers may share weights with the model they wrap)."""
    clone = tf_keras().models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def _quantize(model, scheme=None):
    """QAT wrapper: plain (scheme None) or collaborative, preserving the clusters / sparsity of ``model``."""
    import tensorflow_model_optimization as tfmot
    quant = tfmot.quantization.keras
    if scheme is None:
        return quant.quantize_model(model)
    return quant.quantize_apply(quant.quantize_annotate_model(model), scheme)


def _prune(model, data: TuningSet, steps: int, seed: int, progress: bool):
    import tensorflow_model_optimization as tfmot
    sparsity = tfmot.sparsity.keras
    schedule = sparsity.PolynomialDecay(0.0, SPARSITY, begin_step=0, end_step=max(1, steps * 2 // 3), frequency=10)
    pruned = sparsity.prune_low_magnitude(model, pruning_schedule=schedule)
    _fit(pruned, data, steps, seed, callbacks=[sparsity.UpdatePruningStep()], progress=progress)
    return sparsity.strip_pruning(pruned)


def _cluster(model, data: TuningSet, steps: int, seed: int, progress: bool, preserve_sparsity: bool = False):
    import tensorflow_model_optimization as tfmot
    clustering = tfmot.clustering.keras
    clustered = clustering.cluster_weights(
        model, number_of_clusters=CLUSTERS, preserve_sparsity=preserve_sparsity,
        cluster_centroids_init=clustering.CentroidInitialization.LINEAR)
    _fit(clustered, data, steps, seed, progress=progress)
    return clustering.strip_clustering(clustered)


def tfmot_variants(model, data: TuningSet, out: dict[str, Path], steps: int, seed: int = 0,
                   progress: bool = True) -> dict[str, tuple[Exception | None, float]]:
    """Write the tfmot variants named in ``out`` (name -> .tflite path) from the trained PyTorch ``model``;
    per name, (the error that stopped it or None, seconds taken). Names: qat, pruned, pruned_dynamic, cqat, pqat, pcqat.
    The pruned base is made once and shared (as a copy) by the variants that build on it."""
    import tensorflow_model_optimization as tfmot
    collab = tfmot.experimental.combine
    twin = lambda: pilotnet.keras_twin(pilotnet.fold_input_batchnorm(model), keras=tf_keras())  # noqa: E731
    cache: dict[str, object] = {}

    def pruned():
        if "pruned" not in cache:
            cache["pruned"] = _prune(twin(), data, steps, seed, progress)
        return cache["pruned"]

    def qat(base, scheme=None):
        wrapped = _quantize(base, scheme)
        _fit(wrapped, data, steps, seed, progress=progress)
        return wrapped

    recipes = {
        "qat": lambda: _save_tflite(qat(twin()), out["qat"], "qat"),
        "pruned": lambda: _save_tflite(pruned(), out["pruned"], "float32"),
        "pruned_dynamic": lambda: _save_tflite(pruned(), out["pruned_dynamic"], "dynamic"),
        "cqat": lambda: _save_tflite(qat(_cluster(twin(), data, steps, seed, progress),
                                         collab.Default8BitClusterPreserveQuantizeScheme()), out["cqat"], "qat"),
        "pqat": lambda: _save_tflite(qat(_copy(pruned()), collab.Default8BitPrunePreserveQuantizeScheme()),
                                     out["pqat"], "qat"),
        "pcqat": lambda: _save_tflite(
            qat(_cluster(_copy(pruned()), data, steps, seed, progress, preserve_sparsity=True),
                collab.Default8BitClusterPreserveQuantizeScheme(preserve_sparsity=True)), out["pcqat"], "qat"),
    }
    unknown = set(out) - set(recipes)
    if unknown:
        raise ValueError(f"unknown tfmot variants {sorted(unknown)}; known: {list(recipes)}")
    results: dict[str, tuple[Exception | None, float]] = {}
    for name in out:
        t0 = time.perf_counter()
        try:
            recipes[name]()
            results[name] = (None, time.perf_counter() - t0)
        except Exception as e:   # reported per variant by the caller
            results[name] = (e, time.perf_counter() - t0)
    return results
