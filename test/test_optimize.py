"""`f1-brains optimize` on a CI-sized scale: every variant is built (or skipped with its reason) and loads."""
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO

from f1_brains.cli import main
from f1_brains.core.backends import load_backend
from f1_brains.core.model_card import ModelCard, card_path_for
from f1_brains.core import pilotnet
from f1_brains.zoo import dataset, export, optimize
from f1_brains.zoo.torch_formats import sparsity

TENSORRT_VARIANTS = {"tf_trt_fp32", "tf_trt_fp16", "tf_trt_int8", "torch_tensorrt_fp16"}


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    dataset.collect(out, ["simple_circuit"], laps=1, seed=2, progress=False)
    return out


def test_folding_the_input_batchnorm_changes_nothing(reference_model):
    folded = pilotnet.fold_input_batchnorm(reference_model)
    x = torch.rand(4, 3, pilotnet.INPUT_HEIGHT, pilotnet.INPUT_WIDTH)
    with torch.no_grad():
        assert torch.allclose(folded(x), reference_model(x), atol=1e-5)
    assert isinstance(folded[0], torch.nn.Identity) and not isinstance(reference_model[0], torch.nn.Identity)
    twin = pilotnet.keras_twin(folded)   # the Keras twin of a folded model has no BatchNorm either
    assert "input_norm" not in [layer.name for layer in twin.layers]
    np.testing.assert_allclose(twin(x.permute(0, 2, 3, 1).numpy()).numpy(), folded(x).detach().numpy(), atol=1e-5)


def test_every_variant_is_built_or_skipped_with_its_reason_and_loads(tiny_dataset, tmp_path, capsys):
    out = tmp_path / "models"
    rc = main(["optimize", "--data", str(tiny_dataset), "--out", str(out), "--steps", "4"])
    written = json.loads((out / "optimize.json").read_text())
    report = written["variants"]
    assert written["base_formats_seconds"] > 0   # one export for the base formats, timed together
    assert rc == 0, {k: v.get("reason") for k, v in report.items() if v["status"] == "failed"}
    assert set(report) == set(optimize.ALL)
    assert "tf_trt_int8" in capsys.readouterr().out   # the summary table names every variant
    pixels = np.asarray(dataset.load(tiny_dataset)[0][:8])
    reference = None
    for name, result in report.items():
        if name in TENSORRT_VARIANTS:   # this machine has no TensorRT: skipped, never pretended
            assert result["status"] == "skipped" and "TensorRT" in result["reason"], result
            assert not (out / optimize.ALL[name].file).exists()
            continue
        assert result["status"] == "written", (name, result)
        path = out / optimize.ALL[name].file
        card = ModelCard.load(card_path_for(path))
        assert card.provenance["format"] == name and card.provenance["method"] == optimize.ALL[name].method
        takes = optimize.ALL[name].layout
        assert (card.input.layout, card.input.dtype, card.input.space_to_depth) == \
            (takes.layout, takes.dtype, takes.space_to_depth)
        outputs = load_backend(path).predict(card.to_tensor(pixels))
        assert outputs.shape == (8, 2) and np.all(np.isfinite(outputs)), name
        if name == "torchscript":
            reference = outputs
    # Post-training variants compute (nearly) the float function: nothing was fine-tuned into them.
    for name in ("onnx", "openvino_ir", "tflite", "tflite_float16", "tflite_dynamic", "torch_dynamic_int8"):
        path = out / optimize.ALL[name].file
        card = ModelCard.load(card_path_for(path))
        np.testing.assert_allclose(load_backend(path).predict(card.to_tensor(pixels)), reference, atol=2e-2)
    pruned = torch.jit.load(str(out / "pilotnet_pruned_global.pt"))
    weights = [p for n, p in pruned.named_parameters() if n.endswith("weight") and p.dim() > 1]
    zeros = sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights)
    assert zeros == pytest.approx(optimize.PRUNE_AMOUNT, abs=0.01)
    sizes = {n: (out / optimize.ALL[n].file).stat().st_size for n in ("tflite", "tflite_dynamic", "tflite_float16")}
    assert sizes["tflite_dynamic"] < 0.27 * sizes["tflite"] and sizes["tflite_float16"] < 0.55 * sizes["tflite"]


def test_pruning_hits_its_sparsity_and_leaves_the_trained_model_alone(reference_model, tiny_dataset):
    from f1_brains.core.model_card import OutputSpec
    from f1_brains.zoo.finetune import TuningSet
    from f1_brains.zoo.torch_formats import prune
    before = {k: v.clone() for k, v in reference_model.state_dict().items()}
    data = TuningSet.load([tiny_dataset], OutputSpec())
    local = prune(reference_model, data, steps=2, amount=0.3, scope="local", progress=False)
    layers = [m for m in local if type(m).__name__ in ("Conv2d", "Linear")]
    assert all(float((m.weight == 0).float().mean()) == pytest.approx(0.3, abs=0.01) for m in layers)
    assert sparsity(local) == pytest.approx(0.3, abs=0.01)
    assert all(torch.equal(before[k], v) for k, v in reference_model.state_dict().items())   # never stacked


def test_fine_tuning_variants_without_data_fail_clearly_and_the_rest_still_build(tmp_path, capsys):
    rc = main(["optimize", "--out", str(tmp_path), "--variants", "tflite_dynamic", "torch_qat_int8"])
    assert rc == 1
    report = json.loads((tmp_path / "optimize.json").read_text())["variants"]
    assert report["tflite_dynamic"]["status"] == "written"
    assert report["torch_qat_int8"]["status"] == "failed"
    assert "pass a training dataset (--data)" in report["torch_qat_int8"]["reason"]


def test_unknown_variant_is_a_clear_error(tmp_path, capsys):
    assert main(["optimize", "--out", str(tmp_path), "--variants", "tflite_magic"]) == 2
    assert "unknown variants ['tflite_magic']" in capsys.readouterr().err


def test_tfmot_qat_starts_from_the_float_activation_ranges(reference_model, tiny_dataset):
    """tfmot starts every activation range at [-6, 6]; after calibration each holds the float model's range."""
    from f1_brains.core.model_card import OutputSpec
    from f1_brains.zoo import tflite_formats
    from f1_brains.zoo.finetune import TuningSet
    data = TuningSet.load([tiny_dataset], OutputSpec())
    twin = pilotnet.keras_twin(pilotnet.fold_input_batchnorm(reference_model), keras=tflite_formats.tf_keras())
    tflite_formats._quantize(twin)   # a second quantized model in the process: its input layer is quantize_layer_1
    wrapped = tflite_formats._quantize(twin)
    tflite_formats._calibrate_ranges(wrapped, twin, data, frames=len(data.pixels))
    ranges = {re.sub(r"quantize_layer_\d+", "quantize_layer", v.name.split(":")[0]): float(v.numpy())
              for v in wrapped.weights if re.search(r"(post_activation|quantize_layer(_\d+)?)_(min|max):0$", v.name)}
    # The input and 8 layers: dense3 and the output layer stay float (pilotnet.INT8_FLOAT_TAIL).
    assert len(ranges) == 2 * 9 and not {-6.0, 6.0} & set(ranges.values())
    assert not any(name.startswith(("quant_dense3/", "quant_vw/")) for name in ranges)
    assert [layer.name for layer in wrapped.layers[-2:]] == ["dense3", "vw"]
    x = data.card.to_tensor(data.pixels).transpose(0, 2, 3, 1)
    out = tflite_formats.tf_keras().Model(twin.inputs, twin.get_layer("dense2").output).predict(x, verbose=0)
    assert ranges["quant_dense2/post_activation_max"] == pytest.approx(max(0.0, float(out.max())), rel=1e-5)
    assert ranges["quant_dense2/post_activation_min"] == pytest.approx(min(0.0, float(out.min())), rel=1e-5)
    assert ranges["quantize_layer/quantize_layer_max"] == pytest.approx(float(x.max()))


def test_tfmot_prunes_and_clusters_only_the_large_layers(reference_model):
    import tensorflow_model_optimization as tfmot

    from f1_brains.zoo import tflite_formats
    twin = pilotnet.keras_twin(pilotnet.fold_input_batchnorm(reference_model), keras=tflite_formats.tf_keras())
    wrapped = tflite_formats._wrap_large(twin, tfmot.sparsity.keras.prune_low_magnitude)
    large = [layer.layer.name for layer in wrapped.layers if hasattr(layer, "layer")]
    assert large == ["conv1", "conv2", "conv3", "conv4", "dense0", "dense1"]   # not conv0, dense2-3, the output
    share = sum(twin.get_layer(n).count_params() for n in large) / twin.count_params()
    assert share > 0.99


def int8_levels_per_channel(tflite: Path) -> list[int]:
    """Per large int8 weight tensor of ``tflite``: the most distinct levels any of its output channels holds."""
    from ai_edge_litert.interpreter import Interpreter
    from f1_brains.zoo.tflite_formats import MIN_PARAMS
    interpreter, levels = Interpreter(str(tflite)), []
    for detail in interpreter.get_tensor_details():
        if detail["dtype"] == np.int8 and len(detail["shape"]) >= 2 and np.prod(detail["shape"]) >= MIN_PARAMS:
            try:
                weights = interpreter.get_tensor(detail["index"])
            except ValueError:   # an activation: no data before allocate_tensors; only constants (weights) have some
                continue
            levels.append(max(len(np.unique(channel)) for channel in weights))
    return levels


def test_the_shipped_clustered_models_keep_their_clusters_and_use_them():
    """CQAT and PCQAT keep at most CLUSTERS int8 levels per output channel of each large layer through
    quantization-aware training (plain QAT: far more), and use most of them: started evenly spaced, a third went
    unused (33-48 levels) and CQAT cost 1.165x the float MSE."""
    from f1_brains.zoo.tflite_formats import CLUSTERS
    zoo = REPO / "models" / "pilotnet"
    for name in ("pilotnet_cqat.tflite", "pilotnet_pcqat.tflite"):
        levels = int8_levels_per_channel(zoo / name)
        assert len(levels) == 6 and all(CLUSTERS * 3 // 4 < n <= CLUSTERS for n in levels), (name, levels)
    assert min(int8_levels_per_channel(zoo / "pilotnet_qat.tflite")) > CLUSTERS


def test_rebuilding_a_subset_keeps_the_record_of_the_other_variants(tmp_path, capsys):
    assert main(["optimize", "--out", str(tmp_path), "--variants", "tflite_dynamic"]) == 0
    assert main(["optimize", "--out", str(tmp_path), "--variants", "tflite_float16"]) == 0
    assert set(json.loads((tmp_path / "optimize.json").read_text())["variants"]) == {"tflite_dynamic", "tflite_float16"}
    assert main(["optimize", "--out", str(tmp_path), "--variants", "tflite_float16", "--seed", "1"]) == 0
    assert set(json.loads((tmp_path / "optimize.json").read_text())["variants"]) == {"tflite_float16"}   # other weights
    assert main(["optimize", "--out", str(tmp_path), "--variants", "onnx", "--seed", "1"]) == 0
    written = json.loads((tmp_path / "optimize.json").read_text())
    assert set(written["variants"]) == {"tflite_float16", "onnx"}
    assert written["base_formats_seconds"] is None   # one base format's time is not the whole export's


def test_exporting_one_keras_derived_format_leaves_the_other_files_alone(reference_model, tmp_path):
    shipped = tmp_path / "pilotnet.keras"
    shipped.write_bytes(b"the shipped Keras model")
    export.export_all(reference_model, tmp_path, ["tflite"])
    assert shipped.read_bytes() == b"the shipped Keras model"
    assert not (tmp_path / "pilotnet_savedmodel").exists() and (tmp_path / "pilotnet.tflite").is_file()
