"""The OpenVINO backend on our ONNX files and IR: fp32 exactly fp32 (never OpenVINO's silent bf16), bf16 on request,
int8 from the QDQ ONNX, threads and streams as asked, and each bad input refused with one clear error."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from f1_brains.core.backends import LoadOptions, load_backend
from f1_brains.core.brain import Brain, BrainSpec
from f1_brains.core.model_card import ModelCard, card_path_for
from f1_brains.errors import BackendUnavailable, ConfigError, ModelLoadError

ov = pytest.importorskip("openvino", reason="OpenVINO is not installed (pip install openvino)")


def openvino(path, **options) -> object:
    threads = options.pop("threads", 1)
    return load_backend(path, "openvino", LoadOptions(threads=threads, extra=tuple(options.items())))


def outputs(backend, exported, frames) -> np.ndarray:
    card = ModelCard.load(card_path_for(exported["onnx"]))
    return np.concatenate([backend.predict(card.preprocess(f)) for f in frames])


def test_fp32_runs_fp32_and_matches_the_reference(exported, frames, reference_outputs):
    backend = openvino(exported["onnx"])
    assert backend.describe()["inference_precision"] == "f32" and backend.threads == 1
    np.testing.assert_allclose(outputs(backend, exported, frames), reference_outputs, atol=1e-5, rtol=0)


def test_bf16_on_request_is_close_or_named_where_the_cpu_has_none(exported, frames, reference_outputs):
    backend = openvino(exported["onnx"], precision="bf16")
    if "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        assert backend.describe()["inference_precision"] == "bf16" and backend.warnings == []
    else:   # e.g. an AMD EPYC without AVX-512: OpenVINO runs f32, and we say so
        assert backend.describe()["inference_precision"] == "f32"
        assert backend.warnings and "bf16 asked, but CPU runs f32" in backend.warnings[0]
    assert np.abs(outputs(backend, exported, frames) - reference_outputs).max() < 0.02


def test_int8_qdq_onnx_matches_onnxruntime_int8(tmp_path, reference_model, exported, frames):
    from f1_brains.zoo.export import NCHW_CARD, calibration_batches
    from f1_brains.zoo.onnx_formats import export_onnx_int8
    int8 = tmp_path / "pilotnet_int8.onnx"
    export_onnx_int8(reference_model, int8, calibration_batches(NCHW_CARD, 32))
    card = ModelCard.load(card_path_for(exported["onnx"]))
    x = np.concatenate([card.preprocess(f) for f in frames])
    ov_out = np.concatenate([openvino(int8).predict(x[i:i + 1]) for i in range(len(x))])
    ort_out = load_backend(int8, "onnxruntime").predict(x)
    assert np.abs(ov_out - ort_out).max() < 0.02


def test_ir_files_load_by_suffix_and_a_brain_runs_them(exported, tmp_path, frames, reference_outputs):
    ir = tmp_path / "pilotnet.xml"
    ov.save_model(ov.convert_model(str(exported["onnx"])), str(ir), compress_to_fp16=False)
    ModelCard.load(card_path_for(exported["onnx"])).save(card_path_for(ir))
    brain = Brain.from_spec(BrainSpec.from_dict({"name": "ir", "model": str(ir), "warmup": 1}))
    assert brain.backend.name == "openvino"
    raw = np.concatenate([brain.backend.predict(brain.card.preprocess(f)) for f in frames])
    np.testing.assert_allclose(raw, reference_outputs, atol=1e-5, rtol=0)


def test_threads_and_streams_are_what_was_asked(exported):
    backend = openvino(exported["onnx"], threads=2, streams=1)
    assert backend.threads == 2 and int(backend.compiled.get_property("NUM_STREAMS")) == 1


def test_bad_requests_are_one_clear_error(exported, tmp_path):
    with pytest.raises(BackendUnavailable, match=r"openvino: OpenVINO device 'NPU' is not here \(available: CPU"):
        openvino(exported["onnx"], ov_device="NPU")
    with pytest.raises(BackendUnavailable, match=r"openvino: runs on the CPU only; device 'cuda:0' requested"):
        load_backend(exported["onnx"], "openvino", LoadOptions(device="cuda"))
    with pytest.raises(ConfigError, match=r"precision must be one of \('fp32', 'bf16'\), not 'int4'"):
        openvino(exported["onnx"], precision="int4")
    with pytest.raises(ConfigError, match=r"streams must be a whole number of at least 1, not 'two'"):
        openvino(exported["onnx"], streams="two")
    broken = tmp_path / "broken.xml"
    broken.write_text("<net>not an IR</net>")
    with pytest.raises(ModelLoadError, match=r"openvino: cannot load .*broken.xml"):
        openvino(broken)
    # an IR whose input does not match its card: refused when the brain is built
    ir = tmp_path / "pilotnet.xml"
    ov.save_model(ov.convert_model(str(exported["onnx"])), str(ir))
    ModelCard.load(card_path_for(exported["keras"])).save(card_path_for(ir))   # NHWC card for an NCHW network
    with pytest.raises(ModelLoadError, match=r"describes input \(1, 66, 200, 3\), but model .*pilotnet.xml takes"):
        Brain.from_spec(BrainSpec.from_dict({"name": "ir", "model": str(ir)}))


def test_missing_openvino_is_named():
    """Without the package (hidden from a fresh interpreter), the backend says what to install."""
    code = ("import sys; sys.modules['openvino'] = None\n"
            "from f1_brains.core.backends import backend_class\n"
            "print(backend_class('openvino').unavailable_reason())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "OpenVINO is not installed (pip install openvino)", out.stderr
