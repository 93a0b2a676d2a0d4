"""ONNX artifacts of PilotNet: float32 export and int8 static quantization (onnxruntime.quantization)."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Iterable

import numpy as np

from ..core import pilotnet
from ..core.exports import ONNX_INPUT as INPUT_NAME
from ..core.exports import export_onnx

def export_onnx_int8(model, path: Path, calibration: Iterable[np.ndarray], input_shape: tuple[int, ...] | None = None
                     ) -> None:
    """QDQ int8: per-channel symmetric int8 weights, uint8 activations with ranges observed (min/max) on
    the calibration batches, except the last pilotnet.INT8_FLOAT_TAIL dense layers. The input BatchNorm is folded first
    so every conv quantizes. ``input_shape``: the model's batch input shape, when it is not PilotNet's image."""
    import onnx
    from onnxruntime import quantization as q

    class Batches(q.CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self.batches, None)
            return None if batch is None else {INPUT_NAME: batch}

    with tempfile.TemporaryDirectory() as tmp:
        float_path, prepared = Path(tmp) / "float.onnx", Path(tmp) / "prepared.onnx"
        export_onnx(pilotnet.fold_input_batchnorm(model), float_path, *([input_shape] if input_shape else []))
        q.quant_pre_process(str(float_path), str(prepared))
        dense = [n.name for n in onnx.load(str(prepared)).graph.node if n.op_type in ("Gemm", "MatMul")]
        q.quantize_static(str(prepared), str(path), Batches(), quant_format=q.QuantFormat.QDQ, per_channel=True,
                          activation_type=q.QuantType.QUInt8, weight_type=q.QuantType.QInt8,
                          calibrate_method=q.CalibrationMethod.MinMax, nodes_to_exclude=dense[-pilotnet.INT8_FLOAT_TAIL:])
