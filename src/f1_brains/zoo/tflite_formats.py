"""TFLite artifacts of PilotNet: post-training conversions and tensorflow-model-optimization recipes.

Post-training (``export_tflite`` modes): float32, dynamic range (int8 weights, float activations),
float16 weights, full integer (int8 input and output) and integer with float fallback (float I/O).
Training recipes (tfmot, on the tf_keras twin of the folded PilotNet, fine-tuned from the trained
weights): QAT, magnitude pruning, and the collaborative CQAT (clustering preserved), PQAT (sparsity
preserved) and PCQAT (both). tfmot only supports Keras 2, hence tf_keras here and Keras 3 elsewhere.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..core import pilotnet
from ..core.exports import export_tflite
from .finetune import FINETUNE_LR, TuningSet

SPARSITY = 0.5          # magnitude pruning target over the pruned layers (global_sparsities)
CLUSTERS = 64           # weight clusters per layer: 16 cost 2.0-2.7x the float MSE after fine-tuning, 64 0.99x.
                        # Centroids start at k-means++ picks: evenly spaced ones (LINEAR) left a third of them
                        # unused (at most 33-48 levels per channel in the int8 file) and cost 1.165x the float MSE.
MIN_PARAMS = 20_000     # pruning and clustering touch only layers this large: 99.5% of PilotNet's weights.
                        # Halving the 10-unit and output layers too (tfmot's default, the seeds' local pruning)
                        # is what made PyTorch local pruning lose 15.7x.


def export_tflite_int8(model, path: Path, calibration: Callable[[], Iterable[np.ndarray]], bias_frames: np.ndarray,
                       mode: str = "int8") -> None:
    """Post-training integer TFLite (``mode`` int8 or int8_fallback) of the PyTorch PilotNet ``model``, its
    int8 bias corrected on ``bias_frames`` (NCHW; zoo.bias_correction) and the input BatchNorm folded into
    the first convolution, so the int8 input holds the pixels exactly (scale 1/255) instead of rounding
    normalized values. ``calibration``: NHWC batches for the activation ranges."""
    from ..core.backends import load_backend
    from .bias_correction import bias_corrected

    def convert(m) -> Path:
        with tempfile.TemporaryDirectory() as tmp:
            pilotnet.keras_twin(m).export(tmp, verbose=False)
            export_tflite(Path(tmp), path, mode, calibration)
        return path

    bias_corrected(pilotnet.fold_input_batchnorm(model), bias_frames, convert,
                   lambda artifact, frames: load_backend(artifact, "tflite").predict(frames.transpose(0, 2, 3, 1)))


def tf_keras():
    """Keras 2 as tensorflow-model-optimization uses it."""
    from tensorflow_model_optimization.python.core.keras.compat import keras
    return keras


def _fit(model, data: TuningSet, steps: int, seed: int, lr: float = FINETUNE_LR, callbacks: list | None = None,
         progress: bool = True) -> None:
    """Adam on the MSE, the rate decaying from ``lr`` to 0 along a cosine: the schedule of finetune_torch."""
    keras = tf_keras()
    schedule = keras.optimizers.schedules.CosineDecay(lr, decay_steps=max(1, steps))
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mse")
    verbose = (1 if sys.stdout.isatty() else 2) if progress else 0   # 2: one line, not a bar per step in logs
    model.fit(data.batches(steps, seed=seed, layout="NHWC"), steps_per_epoch=steps, epochs=1,
              callbacks=callbacks or [], verbose=verbose)


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
    """QAT wrapper: plain (scheme None) or collaborative, preserving the clusters / sparsity of ``model``.
    The last pilotnet.INT8_FLOAT_TAIL dense layers stay float, as in the ONNX and PyTorch int8 variants:
    QAT 1.04x the float MSE with them float against 1.10x all int8, PCQAT 1.06x against 1.14x."""
    import tensorflow_model_optimization as tfmot
    quant, keras = tfmot.quantization.keras, tf_keras()
    tail = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Dense)][-pilotnet.INT8_FLOAT_TAIL:]
    keep_float = (keras.layers.InputLayer, keras.layers.BatchNormalization)   # an input BatchNorm tfmot cannot quantize
    annotated = keras.models.clone_model(model, clone_function=lambda layer: (
        layer if layer.name in tail or isinstance(layer, keep_float) else quant.quantize_annotate_layer(layer)))
    annotated.set_weights(model.get_weights())
    return quant.quantize_apply(annotated) if scheme is None else quant.quantize_apply(annotated, scheme)


def _calibrate_ranges(wrapped, base, data: TuningSet, frames: int = 2048, seed: int = 0) -> None:
    """Start every activation range of the QAT model ``wrapped`` at the min/max that the float ``base``
    reaches on training frames. tfmot starts them at [-6, 6] and moves them by an EMA of decay 0.999 per
    step, so a few hundred fine-tuning steps leave them several times too wide (after 500, 61% of the start
    remains: the output's step ~8x the calibrated one); QAT lost 2.6-3.3x the float MSE without this."""
    keras = tf_keras()
    layers = [layer for layer in base.layers if not isinstance(layer, keras.layers.InputLayer)]
    probe = keras.Model(base.inputs, [layer.output for layer in layers])
    picks = np.random.default_rng(seed).choice(len(data.pixels), size=min(frames, len(data.pixels)), replace=False)
    names = [""] + [layer.name for layer in layers]   # "" is the model input
    lo, hi = dict.fromkeys(names, 0.0), dict.fromkeys(names, 0.0)   # ranges always hold 0, as TFLite needs
    for start in range(0, len(picks), 64):
        x = data.inputs(np.sort(picks[start:start + 64]), "NHWC")
        for name, y in zip(names, [x] + probe.predict_on_batch(x)):
            lo[name], hi[name] = min(lo[name], float(y.min())), max(hi[name], float(y.max()))
    for layer in wrapped.layers:
        is_input = type(layer).__name__ == "QuantizeLayer"   # its range variables are named after the layer
        if is_input:   # it quantizes the model input, or the output of a layer left float (an input BatchNorm)
            feeding = layer.inbound_nodes[0].inbound_layers
            feeding = feeding[0] if isinstance(feeding, list) else feeding
            source = "" if isinstance(feeding, keras.layers.InputLayer) else feeding.name
        else:
            source = getattr(getattr(layer, "layer", None), "name", None)
        for var in layer.weights:
            name = var.name.split("/")[-1].split(":")[0]
            if not (name.endswith(("_min", "_max")) and (is_input or name.startswith("post_activation_"))):
                continue
            if source not in lo:
                raise RuntimeError(f"no float layer for the range {var.name}")
            var.assign(lo[source] if name.endswith("_min") else hi[source])


def _wrap_large(model, wrap: Callable):
    """``model`` with ``wrap(layer)`` in place of every layer of at least MIN_PARAMS weights (tfmot's
    per-layer API; the other layers are shared with ``model``)."""
    return tf_keras().models.clone_model(
        model, clone_function=lambda layer: wrap(layer) if layer.count_params() >= MIN_PARAMS else layer)


def global_sparsities(model) -> dict[str, float]:
    """Per large layer, the share of its kernel below one magnitude threshold that leaves SPARSITY of all
    the large layers' kernels: global magnitude pruning (as torch_pruned_global), which tfmot's per-layer
    API expresses as per-layer targets. The big dense layer gives more, the convolutions less."""
    kernels = {layer.name: np.abs(layer.get_weights()[0]) for layer in model.layers
               if layer.count_params() >= MIN_PARAMS}
    threshold = np.quantile(np.concatenate([k.ravel() for k in kernels.values()]), SPARSITY)
    return {name: float((k < threshold).mean()) for name, k in kernels.items()}


def _prune(model, data: TuningSet, steps: int, seed: int, progress: bool):
    import tensorflow_model_optimization as tfmot
    sparsity = tfmot.sparsity.keras
    targets = global_sparsities(model)
    pruned = _wrap_large(model, lambda layer: sparsity.prune_low_magnitude(layer, pruning_schedule=sparsity.PolynomialDecay(
        0.0, targets[layer.name], begin_step=0, end_step=max(1, steps * 2 // 3), frequency=10)))
    _fit(pruned, data, steps, seed, callbacks=[sparsity.UpdatePruningStep()], progress=progress)
    return _copy(sparsity.strip_pruning(pruned))   # own layers: the stripped model shares them with ``model``


def _cluster(model, data: TuningSet, steps: int, seed: int, progress: bool, preserve_sparsity: bool = False):
    import tensorflow_model_optimization as tfmot
    clustering = tfmot.clustering.keras
    clustered = _wrap_large(model, lambda layer: clustering.cluster_weights(
        layer, number_of_clusters=CLUSTERS, preserve_sparsity=preserve_sparsity,
        cluster_centroids_init=clustering.CentroidInitialization.KMEANS_PLUS_PLUS))
    _fit(clustered, data, steps, seed, progress=progress)
    return _copy(clustering.strip_clustering(clustered))


def torch_twin(model) -> Callable[[], object]:
    """A maker of tf_keras twins of the PyTorch PilotNet ``model``, its input BatchNorm folded (tfmot's quantizers
    handle a BatchNorm only after a convolution)."""
    return lambda: pilotnet.keras_twin(pilotnet.fold_input_batchnorm(model), keras=tf_keras())


def tfmot_variants(twin: Callable[[], object], data: TuningSet, out: dict[str, Path], steps: int, seed: int = 0,
                   progress: bool = True) -> dict[str, tuple[Exception | None, float]]:
    """Write the tfmot variants named in ``out`` (name -> .tflite path) from the trained tf_keras models ``twin``
    makes (``torch_twin``, or DeepLearningStudio's TF PilotNet); per name, (the error that stopped it or None,
    seconds taken). Names: qat, pruned, pruned_dynamic, cqat, pqat, pcqat. The pruned base is made once and shared
    (as a copy) by the variants that build on it."""
    import tensorflow_model_optimization as tfmot
    collab = tfmot.experimental.combine
    cache: dict[str, object] = {}

    def pruned():
        if "pruned" not in cache:
            cache["pruned"] = _prune(twin(), data, steps, seed, progress)
        return cache["pruned"]

    def qat(base, scheme=None):
        wrapped = _quantize(base, scheme)
        _calibrate_ranges(wrapped, base, data, seed=seed)
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
