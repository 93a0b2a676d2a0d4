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
WEIGHT_ONLY_TOLERANCE = 1e-3   # int8 weights, one scale per output unit: at most half a step (1/254 of the row's largest)


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


# ---- the IRs of `make optimize`: uint8 pixels in, the first convolution over 2x2 blocks ----

@pytest.fixture(scope="module")
def pixel_irs(reference_model, tmp_path_factory) -> dict[str, object]:
    """precision -> the fp32, int8 and weight-only int8 pixel IRs of the reference model, with their cards."""
    from f1_brains.zoo.export import calibration_batches
    from f1_brains.zoo.openvino_formats import CALIBRATION_CARD, PIXELS_CARD, export_openvino_pixels
    out = tmp_path_factory.mktemp("pixel_irs")
    irs = {"fp32": out / "fp32.xml", "int8": out / "int8.xml", "int8-weights": out / "wint8.xml",
           "int8-w4": out / "int8_w4.xml"}
    export_openvino_pixels(reference_model, irs["fp32"])
    export_openvino_pixels(reference_model, irs["int8-weights"], dense_weights_int8=True)
    export_openvino_pixels(reference_model, irs["int8"], calibration_batches(CALIBRATION_CARD, 32))
    export_openvino_pixels(reference_model, irs["int8-w4"], calibration_batches(CALIBRATION_CARD, 32),
                           first_dense_int4=True)
    for precision, ir in irs.items():
        ModelCard(precision=precision.replace("-w4", ""), input=PIXELS_CARD).save(card_path_for(ir))
    return irs


def test_the_first_convolution_over_2x2_blocks_is_the_same_function(reference_model, frames, reference_outputs):
    import torch
    from f1_brains.zoo.openvino_formats import CALIBRATION_CARD, space_to_depth_first_conv
    blocks = space_to_depth_first_conv(reference_model)
    assert tuple(blocks[1].weight.shape) == (24, 12, 3, 3)
    card = ModelCard(input=CALIBRATION_CARD)
    with torch.no_grad():
        out = np.concatenate([blocks(torch.from_numpy(card.preprocess(f))).numpy() for f in frames])
    np.testing.assert_allclose(out, reference_outputs, atol=1e-5, rtol=0)
    assert not torch.equal(blocks[1].weight, reference_model[1].weight.new_zeros(()))   # the original is untouched
    assert tuple(reference_model[1].weight.shape) == (24, 3, 5, 5)


@pytest.mark.parametrize("precision,tolerance", [("fp32", 1e-5), ("int8", 0.02), ("int8-weights", WEIGHT_ONLY_TOLERANCE),
                                                 ("int8-w4", 0.02)])
def test_pixel_irs_take_uint8_blocks_and_match_the_reference(pixel_irs, frames, reference_outputs, precision,
                                                             tolerance):
    brain = Brain.from_spec(BrainSpec.from_dict({"name": "ir", "model": str(pixel_irs[precision]), "warmup": 1}))
    assert brain.backend.input_spec.shape == (1, 33, 100, 12) and brain.backend.input_spec.dtype == "uint8"
    x = np.concatenate([brain.card.preprocess(f) for f in frames])
    assert x.dtype == np.uint8
    one_by_one = np.concatenate([brain.backend.predict(x[i:i + 1]) for i in range(len(x))])
    np.testing.assert_allclose(one_by_one, reference_outputs, atol=tolerance, rtol=0)
    np.testing.assert_array_equal(brain.backend.predict(x), one_by_one)   # a batch: one sample at a time
    np.testing.assert_array_equal(brain.backend.predict(x[:1]), one_by_one[:1])   # and batch 1 again after it


def test_the_weight_only_ir_keeps_its_large_dense_weights_as_int8(pixel_irs):
    """The two large dense layers read int8 weights widened by one scale per output unit; the rest stays float."""
    from f1_brains.zoo.openvino_formats import WEIGHT_ONLY_MIN
    model = ov.Core().read_model(str(pixel_irs["int8-weights"]))
    weights = {op.get_friendly_name(): op.input_value(1).get_node() for op in model.get_ordered_ops()
               if op.get_type_name() == "MatMul"}
    widened = {name: node for name, node in weights.items() if node.get_type_name() == "Multiply"}
    assert len(widened) == 2 and len(weights) == 5
    for node in widened.values():
        levels, scale = (node.input_value(i).get_node() for i in (0, 1))
        assert levels.get_type_name() == "Convert"
        assert levels.input_value(0).get_node().get_element_type() == ov.Type.i8
        assert levels.get_output_partial_shape(0).to_shape()[0] == scale.get_output_partial_shape(0).to_shape()[0]
    float_layers = [node for name, node in weights.items() if name not in widened]
    assert all(node.get_type_name() == "Constant" and np.prod(node.get_output_shape(0)) < WEIGHT_ONLY_MIN
               for node in float_layers)
    fp32_bytes = pixel_irs["fp32"].with_suffix(".bin").stat().st_size
    assert pixel_irs["int8-weights"].with_suffix(".bin").stat().st_size < 0.4 * fp32_bytes


def test_the_int8_ir_with_int4_weights_in_its_first_dense_layer(pixel_irs):
    """Only that layer changes: int4 levels in groups of INT4_GROUP inputs, one scale each; the rest as the int8 IR."""
    from f1_brains.zoo.openvino_formats import INT4_GROUP
    model = ov.Core().read_model(str(pixel_irs["int8-w4"]))
    int4 = [op for op in model.get_ordered_ops() if op.get_type_name() == "Constant" and op.get_element_type() == ov.Type.i4]
    assert [tuple(op.get_output_shape(0)) for op in int4] == [(1164, 1152 // INT4_GROUP, INT4_GROUP)]
    def int8_weights(m) -> list[tuple[int, ...]]:
        return sorted(tuple(op.get_output_shape(0)) for op in m.get_ordered_ops()
                      if op.get_type_name() == "Constant" and op.get_element_type() == ov.Type.i8)

    int8 = int8_weights(ov.Core().read_model(str(pixel_irs["int8"])))
    assert (1164, 1152) in int8 and int8_weights(model) == [shape for shape in int8 if shape != (1164, 1152)]
    assert pixel_irs["int8-w4"].with_suffix(".bin").stat().st_size < 0.7 * pixel_irs["int8"].with_suffix(".bin").stat().st_size


def test_int4_groups_must_divide_the_inputs_and_the_layer_must_exist(pixel_irs):
    from f1_brains.zoo.openvino_formats import dense_weights_int4
    model = ov.Core().read_model(str(pixel_irs["fp32"]))
    with pytest.raises(ValueError, match="1152 inputs do not split into groups of 100"):
        dense_weights_int4(model, np.ones((1164, 1152), np.float32), group=100)
    with pytest.raises(ValueError, match="no dense layer with 7 x 1152 weights"):
        dense_weights_int4(model, np.ones((7, 1152), np.float32))


def test_weight_only_int8_leaves_a_model_without_large_dense_layers_alone(pixel_irs):
    from f1_brains.zoo.openvino_formats import weight_only_int8
    model = ov.Core().read_model(str(pixel_irs["fp32"]))
    before = [op.get_type_name() for op in model.get_ordered_ops()]
    assert weight_only_int8(model, min_weights=10**9) == []
    assert [op.get_type_name() for op in model.get_ordered_ops()] == before


def test_the_int8_ir_takes_the_pixels_as_its_quantized_levels(pixel_irs):
    """Its input quantization step is exactly 1/255, zero point 0: pixel p is level p, no rounding anywhere.
    (OpenVINO's conversion may fold the /255 into the ranges: then they are 0..255 in steps of 1.)"""
    model = ov.Core().read_model(str(pixel_irs["int8"]))
    first = next(op for op in model.get_ordered_ops() if op.get_type_name() == "FakeQuantize")
    low, high = (float(first.input_value(i).get_node().get_data()) for i in (1, 2))
    assert first.get_attributes()["levels"] == 256 and low == 0.0
    assert high == pytest.approx(255.0, abs=1e-4) or high == pytest.approx(1.0, abs=1e-7)


def test_a_card_must_say_whether_its_network_takes_pixels(exported, pixel_irs, tmp_path):
    import dataclasses
    onnx = tmp_path / "float.onnx"
    onnx.write_bytes(exported["onnx"].read_bytes())
    float_card = ModelCard.load(card_path_for(exported["onnx"]))
    dataclasses.replace(float_card, input=dataclasses.replace(float_card.input, dtype="uint8")).save(card_path_for(onnx))
    with pytest.raises(ModelLoadError, match=r"feeds uint8 input, but model .*float.onnx takes float32"):
        Brain.from_spec(BrainSpec.from_dict({"name": "x", "model": str(onnx), "backend": "openvino"}))
    ir = tmp_path / "pixels.xml"
    ov.save_model(ov.Core().read_model(str(pixel_irs["fp32"])), str(ir))
    pixel_card = ModelCard.load(card_path_for(pixel_irs["fp32"]))
    dataclasses.replace(pixel_card, input=dataclasses.replace(pixel_card.input, dtype="float32")).save(card_path_for(ir))
    with pytest.raises(ModelLoadError, match=r"feeds float32 input, but model .*pixels.xml takes uint8 pixels"):
        Brain.from_spec(BrainSpec.from_dict({"name": "x", "model": str(ir)}))


def test_bench_times_a_float_ir_in_bf16_too_where_the_cpu_runs_it(pixel_irs):
    from f1_brains.zoo.bench import BenchEntry, bench_entries
    native_bf16 = "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    bf16 = (("precision", "bf16"),)
    assert bench_entries([pixel_irs["fp32"], pixel_irs["int8"], pixel_irs["int8-weights"]]) == [
        BenchEntry(pixel_irs["fp32"]), *([BenchEntry(pixel_irs["fp32"], bf16)] if native_bf16 else []),
        BenchEntry(pixel_irs["int8"]),
        BenchEntry(pixel_irs["int8-weights"]), *([BenchEntry(pixel_irs["int8-weights"], bf16)] if native_bf16 else [])]


def test_info_layers_says_where_an_inference_goes_or_why_it_cannot(pixel_irs, exported, capsys):
    from f1_brains.cli import main
    assert main(["info", str(pixel_irs["int8"]), "--option", "profile=true", "--layers", "20"]) == 0
    out = capsys.readouterr().out
    assert "NHWC 2x2 blocks (1, 33, 100, 12) uint8" in out and "median over 20 inferences" in out
    table = out.split("profiling on):\n", 1)[1].splitlines()
    assert table[0] == "| layer | type | kernel | us |" and table[-1].startswith("| total |  |  | ")
    assert sum("| Convolution |" in row for row in table) == 5   # PilotNet's five, the first over 2x2 blocks
    assert main(["info", str(pixel_irs["int8"]), "--layers", "5"]) == 2
    assert "layer times need the backend option profile: true" in capsys.readouterr().err
    assert main(["info", str(exported["onnx"]), "--layers", "5"]) == 2
    assert "backend onnxruntime does not report per-layer times (openvino does)" in capsys.readouterr().err
