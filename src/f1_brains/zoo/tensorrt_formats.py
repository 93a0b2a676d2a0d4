"""TensorRT conversions of the zoo's models: TF-TRT SavedModels (engines built ahead of time, checked to exist)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..core.backends.keras import import_tensorflow
from ..core.backends.tf_trt import PRECISIONS, has_trt_engines, tf_trt_problem
from ..errors import BackendUnavailable, ModelLoadError


def convert_tf_trt(saved_model_dir: str | Path, out_dir: str | Path, precision: str = "FP16",
            calibration: Callable[[], Iterable[np.ndarray]] | None = None,
            build_shape: tuple[int, ...] | None = None) -> Path:
    """Convert a float SavedModel with TrtGraphConverterV2; INT8 needs ``calibration`` batches.

    Engines are built ahead of time for ``build_shape`` (the batch-1 input) so the first frame on the
    car does not pay for the build, and the result is checked to contain TensorRT engines.
    """
    problem = tf_trt_problem()
    if problem:
        raise BackendUnavailable(f"tf_trt: cannot convert: {problem}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    if precision == "INT8" and calibration is None:
        raise ValueError("INT8 conversion needs calibration batches (correctly preprocessed inputs)")
    tf = import_tensorflow()
    from tensorflow.python.compiler.tensorrt import trt_convert as trt

    converter = trt.TrtGraphConverterV2(
        input_saved_model_dir=str(saved_model_dir),
        precision_mode=getattr(trt.TrtPrecisionMode, precision),
        use_calibration=precision == "INT8",
        max_workspace_size_bytes=1 << 30,
    )

    def feed(batches: Iterable[np.ndarray]):
        for batch in batches:
            yield (tf.constant(batch, tf.float32),)

    converter.convert(calibration_input_fn=(lambda: feed(calibration())) if precision == "INT8" else None)
    if build_shape is not None:
        converter.build(input_fn=lambda: feed([np.zeros(build_shape, np.float32)]))
    converter.save(str(out_dir))
    if not has_trt_engines(out_dir):
        raise ModelLoadError(f"tf_trt: conversion of {saved_model_dir} produced no TensorRT engine "
                             "(every segment fell back to TensorFlow)")
    return Path(out_dir)
