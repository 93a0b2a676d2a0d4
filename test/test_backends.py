"""Every backend runnable here loads the fixture's PilotNet artifacts and reproduces the float
reference; bad artifacts, devices and names fail with one clear line naming the file or parameter."""
import shutil

import numpy as np
import pytest

from f1_brains.core.backends import (
    BACKENDS,
    LoadOptions,
    backend_class,
    backend_for_artifact,
    load_backend,
)
from f1_brains.core.backends.base import is_gpu, normalize_device
from f1_brains.core.backends.tf_trt import TFTRTBackend, tf_trt_problem
from f1_brains.core.model_card import ModelCard, card_path_for
from f1_brains.errors import BackendUnavailable, ConfigError, ModelLoadError
from f1_brains.zoo.tensorrt_formats import convert_tf_trt as convert

# Normalized-output tolerances against the float PyTorch reference (outputs span about 0.1..0.4 here).
# Float formats run the same function, so only summation order differs; int8 formats quantize
# weights (and activations) and may be off by up to 1% of the unit output range.
TOLERANCE = {"torchscript": 1e-5, "onnx": 1e-5, "keras": 1e-5, "saved_model": 1e-5, "tflite": 1e-5,
             "torch_dynamic_int8": 1e-2, "torch_static_int8": 1e-2, "tflite_int8": 1e-2}
EXPECTED_BACKEND = {"torchscript": "torchscript", "onnx": "onnxruntime", "keras": "keras",
                    "saved_model": "keras", "tflite": "tflite", "torch_dynamic_int8": "torch_quantized",
                    "torch_static_int8": "torch_quantized", "tflite_int8": "tflite"}


@pytest.mark.parametrize("fmt", list(TOLERANCE))
def test_backend_matches_float_reference(fmt, exported, frames, reference_outputs):
    path = exported[fmt]
    assert backend_for_artifact(path) == EXPECTED_BACKEND[fmt]
    backend = load_backend(path)
    card = ModelCard.load(card_path_for(path))
    outputs = np.concatenate([backend.predict(card.preprocess(f)) for f in frames])
    assert outputs.shape == reference_outputs.shape and outputs.dtype == np.float32
    np.testing.assert_allclose(outputs, reference_outputs, atol=TOLERANCE[fmt], rtol=0)
    assert backend.device == "cpu" and backend.describe()["accelerator"] is None
    assert backend.describe()["backend"] == EXPECTED_BACKEND[fmt]


@pytest.mark.parametrize("fmt", ["onnx", "tflite", "torchscript", "keras"])
def test_backends_run_batches(fmt, exported, frames, reference_outputs):
    card = ModelCard.load(card_path_for(exported[fmt]))
    batch = np.concatenate([card.preprocess(f) for f in frames])
    out = load_backend(exported[fmt]).predict(batch)
    np.testing.assert_allclose(out, reference_outputs, atol=1e-5, rtol=0)


def test_full_integer_tflite_is_fed_and_read_in_float(exported):
    backend = load_backend(exported["tflite_int8"])
    assert backend.input_spec.dtype == "int8" and backend.output_spec.dtype == "int8"
    assert backend.predict(np.zeros((1, 66, 200, 3), np.float32)).dtype == np.float32


def test_quantized_engine_is_selectable_and_checked(exported):
    backend = load_backend(exported["torch_static_int8"], options=LoadOptions(extra=(("engine", "x86"),)))
    assert backend.describe()["engine"] == "x86"
    with pytest.raises(BackendUnavailable, match="quantized engine 'tpu8'"):
        load_backend(exported["torch_static_int8"], options=LoadOptions(extra=(("engine", "tpu8"),)))


def test_keras_backend_compiles_with_or_without_xla(exported):
    for flag in (True, False):
        backend = load_backend(exported["keras"], options=LoadOptions(extra=(("xla", flag),)))
        assert backend.xla is flag


@pytest.mark.parametrize("name", ["keras", "tflite", "torchscript", "torch_quantized", "onnxruntime", "tf_trt"])
def test_missing_model_file_is_named(name, tmp_path):
    missing = tmp_path / "absent.model"
    with pytest.raises(ModelLoadError, match="absent.model"):
        backend_class(name)(missing)


@pytest.mark.parametrize("fmt", ["torchscript", "torch_static_int8", "onnx", "keras", "tflite", "saved_model"])
def test_truncated_artifact_gives_a_load_error_naming_it(fmt, exported, tmp_path):
    source = exported[fmt]
    if source.is_dir():
        broken = tmp_path / source.name
        shutil.copytree(source, broken)
        pb = broken / "saved_model.pb"
        pb.write_bytes(pb.read_bytes()[: pb.stat().st_size // 3])
    else:
        broken = tmp_path / source.name
        broken.write_bytes(source.read_bytes()[: source.stat().st_size // 3])
    with pytest.raises(ModelLoadError, match=broken.name):
        load_backend(broken, EXPECTED_BACKEND[fmt])


def test_garbage_file_with_a_model_suffix(tmp_path):
    for suffix, backend in ((".onnx", "onnxruntime"), (".tflite", "tflite"), (".pt", "torchscript")):
        path = tmp_path / f"garbage{suffix}"
        path.write_bytes(b"not a model at all" * 10)
        with pytest.raises(ModelLoadError, match=path.name):
            load_backend(path, backend)


@pytest.mark.parametrize("fmt,match", [
    ("torchscript", "sees no CUDA GPU"),
    ("onnx", "CUDAExecutionProvider"),
    ("keras", r"sees 0 GPU"),
    ("torch_static_int8", "CPU only"),
    ("tflite", "CPU only"),
])
def test_gpu_request_without_gpu_is_a_clear_error(fmt, match, exported):
    with pytest.raises(BackendUnavailable, match=match):
        load_backend(exported[fmt], options=LoadOptions(device="cuda"))


def test_unknown_device_and_backend_names(exported):
    with pytest.raises(BackendUnavailable, match="unknown device 'tpu'"):
        load_backend(exported["onnx"], options=LoadOptions(device="tpu"))
    with pytest.raises(BackendUnavailable, match="onnxruntime: unknown device 'tensorrt'.*TensorRT is a backend option"):
        load_backend(exported["onnx"], options=LoadOptions(device="tensorrt"))
    with pytest.raises(ConfigError, match="unknown backend 'tensorflow_magic'.*onnxruntime"):
        load_backend(exported["onnx"], "tensorflow_magic")


def test_selection_by_artifact(exported, tmp_path):
    assert backend_for_artifact(exported["saved_model"]) == "keras"
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(ModelLoadError, match="no saved_model.pb"):
        backend_for_artifact(tmp_path / "empty_dir")
    (tmp_path / "m.xyz").write_text("x")
    with pytest.raises(ConfigError, match="'.xyz'"):
        backend_for_artifact(tmp_path / "m.xyz")
    trt_like = tmp_path / "trt"
    shutil.copytree(exported["saved_model"], trt_like)
    with open(trt_like / "saved_model.pb", "ab") as f:
        f.write(b"TRTEngineOp")   # what a converted graph holds
    assert backend_for_artifact(trt_like) == "tf_trt"


def test_registry_lists_every_backend():
    assert set(BACKENDS) == {"keras", "tflite", "tf_trt", "torchscript", "torch_quantized", "onnxruntime", "openvino"}


TF_TRT_PROBLEM = tf_trt_problem()


@pytest.mark.skipif(TF_TRT_PROBLEM is None, reason="TF-TRT is usable on this machine")
def test_tf_trt_fails_here_naming_what_is_missing(exported):
    assert "TensorRT" in TF_TRT_PROBLEM and "GPU" in TF_TRT_PROBLEM
    with pytest.raises(BackendUnavailable, match="tf_trt: .*TensorRT"):
        TFTRTBackend(exported["saved_model"], LoadOptions(device="cuda"))
    with pytest.raises(BackendUnavailable, match="cannot convert"):
        convert(exported["saved_model"], "/tmp/never", "FP16")


@pytest.mark.skipif(TF_TRT_PROBLEM is not None, reason=f"TF-TRT cannot run here: {TF_TRT_PROBLEM}")
@pytest.mark.parametrize("precision", ["FP32", "FP16", "INT8"])
def test_tf_trt_converts_and_matches_reference(precision, exported, frames, reference_outputs, tmp_path):
    from f1_brains.zoo.export import NHWC_CARD, calibration_batches
    out = convert(exported["saved_model"], tmp_path / f"trt_{precision}", precision,
                  calibration=lambda: calibration_batches(NHWC_CARD, 16), build_shape=(1, 66, 200, 3))
    backend = load_backend(out, options=LoadOptions(device="cuda"))
    assert backend.name == "tf_trt" and backend.device.startswith("cuda")
    card = ModelCard.load(card_path_for(exported["saved_model"]))
    outputs = np.concatenate([backend.predict(card.preprocess(f)) for f in frames])
    np.testing.assert_allclose(outputs, reference_outputs, atol=1e-3 if precision == "FP32" else 2e-2, rtol=0)


def test_one_device_model():
    """cpu or cuda:N, whatever spelling comes in; accelerators are backend options, so they are no GPU names."""
    assert [normalize_device(d) for d in ("cpu", "CPU", "cuda", "gpu", "cuda:1", "gpu:2")] == \
        ["cpu", "cpu", "cuda:0", "cuda:0", "cuda:1", "cuda:2"]
    for bad in ("tensorrt", "tensorrt:0", "cuda:x", "cpu:0", ""):
        with pytest.raises(BackendUnavailable, match="unknown device"):
            normalize_device(bad)
    assert [is_gpu(d) for d in ("cpu", "cuda", "cuda:1", "gpu", "tensorrt", "openvino")] == \
        [False, True, True, True, False, False]
    for name in BACKENDS:
        cls = backend_class(name)
        if cls.unavailable_reason() is None:
            assert set(cls.usable_devices()) <= {"cpu", "cuda"} and "tensorrt" not in cls.usable_devices()


def test_process_wide_thread_settings_stay_with_their_backend(exported, frames):
    """torch's thread count is process-wide: each TorchScript backend puts its own back before it runs, and
    describe() reports the setting in effect."""
    import torch
    card = ModelCard.load(card_path_for(exported["torchscript"]))
    x = card.preprocess(frames[0])
    before = torch.get_num_threads()
    try:
        one = load_backend(exported["torchscript"], options=LoadOptions(threads=1))
        two = load_backend(exported["torchscript"], options=LoadOptions(threads=2))
        assert torch.get_num_threads() == 2 and two.describe()["threads"] == 2
        one.predict(x)
        assert torch.get_num_threads() == 1 and one.describe()["threads"] == 1
    finally:
        torch.set_num_threads(before)
