"""TensorFlow models (SavedModel directory, .keras, .h5) run through a compiled tf.function.

Never ``model.predict``: its per-call overhead is most of the "0.12 s" the seeds reported for TF.
Option ``xla``: true, false or "auto" (default: time both after warm-up and keep the faster).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from ...errors import BackendUnavailable, ModelLoadError
from .. import dls, pilotnet
from .base import Backend, TensorSpec, cuda_index, is_gpu

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def import_tensorflow():
    try:
        import tensorflow as tf
    except ImportError:
        raise BackendUnavailable("TensorFlow is not installed (pip install tensorflow-cpu)") from None
    return tf


def set_tf_threads(threads: int) -> int:
    """Intra-op threads, process-wide: TensorFlow accepts them only before its runtime starts, so a later request
    keeps what the first one set. Returns the setting in effect (0: TensorFlow's default, every core)."""
    tf = import_tensorflow()
    if threads > 0:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            pass   # the runtime has started: the first setting stays
    return tf.config.threading.get_intra_op_parallelism_threads()


def saved_model_signature(tf, path: Path):
    """Load a SavedModel and return (its serving signature, input name, output name)."""
    try:
        obj = tf.saved_model.load(str(path))
    except Exception as e:
        raise ModelLoadError(f"cannot load SavedModel {path}: {str(e).strip().splitlines()[0][:300]}") from None
    if "serving_default" not in obj.signatures:
        raise ModelLoadError(f"SavedModel {path} has no serving_default signature")
    signature = obj.signatures["serving_default"]
    input_name = next(iter(signature.structured_input_signature[1]))
    output_name = next(iter(signature.structured_outputs))
    return obj, signature, input_name, output_name


def tensor_spec(spec) -> TensorSpec:
    return TensorSpec(spec.name or "", tuple(spec.shape.as_list()), spec.dtype.name)


class KerasBackend(Backend):
    name = "keras"
    suffixes = (".keras", ".h5", ".hdf5")
    gpu_capable = True

    @classmethod
    def unavailable_reason(cls) -> str | None:
        try:
            import_tensorflow()
        except BackendUnavailable as e:
            return str(e)
        return None

    @classmethod
    def usable_devices(cls) -> list[str]:
        tf = import_tensorflow()
        return ["cpu"] + [f"cuda:{i}" for i, _ in enumerate(tf.config.list_physical_devices("GPU"))]

    def _tf_device(self, tf) -> str:
        if not is_gpu(self.options.device):
            return "/CPU:0"
        gpus = tf.config.list_physical_devices("GPU")
        if cuda_index(self.options.device) >= len(gpus):
            raise BackendUnavailable(f"{self.name}: device {self.options.device!r} requested but TensorFlow "
                                     f"{tf.__version__} sees {len(gpus)} GPU(s)")
        return f"/GPU:{cuda_index(self.options.device)}"

    def _load(self) -> str:
        tf = import_tensorflow()
        self.threads = set_tf_threads(self.options.threads)
        self._tf_dev = self._tf_device(tf)
        with tf.device(self._tf_dev):
            call, in_spec, out_spec = self._load_callable(tf)
        self._in_spec, self._out_spec, self._call = in_spec, out_spec, call
        self._compile(in_spec.shape[1:])
        return "cpu" if self._tf_dev == "/CPU:0" else f"cuda:{cuda_index(self.options.device)}"

    def _compile(self, sample_shape) -> None:
        tf = import_tensorflow()
        signature = [tf.TensorSpec([None, *sample_shape], tf.float32)]
        xla = self.options.option("xla", "auto")
        candidates = {flag: tf.function(self._call, jit_compile=flag, input_signature=signature)
                      for flag in ((True, False) if xla == "auto" else (bool(xla),))}
        self.xla = self._fastest(candidates, sample_shape) if len(candidates) > 1 else next(iter(candidates))
        self._fn = candidates[self.xla]

    def fit_input(self, shape: tuple[int, ...]) -> None:
        """Keras models run on other image sizes where their layers allow (e.g. DeepLearningStudio's 'same'-padded
        PilotNet on the transposed image it was trained on). A SavedModel's signature is fixed: one that holds DLS's
        TF PilotNet is rebuilt from its variables for the new size; others refuse."""
        tf = import_tensorflow()
        declared = self.input_spec.shape
        if self.path.is_dir():
            weights = dls.tf_pilotnet_weights(list(self._keep.variables), shape[1], shape[2])
            if weights is None:
                super().fit_input(shape)
            import keras
            with tf.device(self._tf_dev):
                rebuilt = pilotnet.keras_pilotnet(keras, shape[1], shape[2], padding="same")
                rebuilt.set_weights(weights)
            self._keep, self._call = rebuilt, (lambda x: rebuilt(x, training=False))
            self.warnings.append(f"{self.path}: its signature is fixed to {declared}; rebuilt from its variables as "
                                 f"DeepLearningStudio's TF PilotNet for {tuple(shape)}")
        try:
            with tf.device(self._tf_dev):
                self._compile(tuple(shape[1:]))
        except Exception as e:
            raise ModelLoadError(f"{self.name}: {self.path} cannot take {tuple(shape)} instead of its declared "
                                 f"{declared}: {str(e).strip().splitlines()[0][:200]}") from None
        self._in_spec = tf.TensorSpec([None, *shape[1:]], tf.float32, name=self._in_spec.name)
        if not self.path.is_dir():
            self._fed_other_than_declared(declared, shape)

    def _load_callable(self, tf):
        if self.path.is_dir():
            self._keep, sig, in_name, out_name = saved_model_signature(tf, self.path)
            in_spec = sig.structured_input_signature[1][in_name]
            return (lambda x: sig(**{in_name: x})[out_name]), in_spec, sig.structured_outputs[out_name]
        import keras
        try:
            model = keras.models.load_model(str(self.path), compile=False)
        except Exception as e:
            raise self._fail_load(e) from None
        self._keep = model
        in_spec = tf.TensorSpec(model.inputs[0].shape, model.inputs[0].dtype, name=model.inputs[0].name)
        out_spec = tf.TensorSpec(model.outputs[0].shape, model.outputs[0].dtype, name=model.outputs[0].name)
        return (lambda x: model(x, training=False)), in_spec, out_spec

    def _fastest(self, candidates: dict, sample_shape, calls: int = 30) -> bool:
        """Warm both variants up, then keep the one with the lower median batch-1 time."""
        x = np.zeros([1, *sample_shape], np.float32)
        medians = {}
        for flag, fn in candidates.items():
            for _ in range(5):
                fn(x)
            times = []
            for _ in range(calls):
                t0 = time.perf_counter()
                fn(x).numpy()
                times.append(time.perf_counter() - t0)
            medians[flag] = float(np.median(times))
        self.xla_medians_ms = {("xla" if k else "graph"): v * 1e3 for k, v in medians.items()}
        return min(medians, key=medians.get)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self._fn(batch).numpy()

    @property
    def input_spec(self) -> TensorSpec:
        return tensor_spec(self._in_spec)

    @property
    def output_spec(self) -> TensorSpec:
        return tensor_spec(self._out_spec)

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "xla": self.xla}
