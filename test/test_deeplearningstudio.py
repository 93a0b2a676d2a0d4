"""DeepLearningStudio's (DLS) artifacts, as its scripts write them (test/dls_reference.py), run as DLS trained them:
loaded card-less, DLS's preprocessing reproduced exactly, outputs equal to the reference computation. Each check
adds a row to the table of docs/deeplearningstudio.md, written to .cache/deeplearningstudio_table.md."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dls_reference import (
    dataset_pixels,
    dls_pilotnet,
    dls_tf_pilotnet,
    tf_input,
    torch_input,
    torch_outputs,
    write_dataset,
    write_pytorch_artifacts,
    write_tf_artifacts,
)
from f1_brains.cli import main
from f1_brains.core.brain import Brain, BrainSpec
from f1_brains.core.model_card import ModelCard
from f1_brains.core.synthetic import road_frames
from f1_brains.errors import ModelLoadError
from f1_brains.util.tables import markdown_table

TABLE = Path(__file__).resolve().parents[1] / ".cache" / "deeplearningstudio_table.md"
ROWS: dict[str, list[str]] = {}


@pytest.fixture(scope="module", autouse=True)
def table():
    """After the module: the rows measured, as docs/deeplearningstudio.md shows them."""
    yield
    if ROWS:
        TABLE.parent.mkdir(exist_ok=True)
        TABLE.write_text(markdown_table(
            ["DLS artifact", "file", "loads as", "preprocessing = DLS's", "max output error (normalized)"],
            [ROWS[k] for k in sorted(ROWS)]) + "\n")


@pytest.fixture(scope="module")
def trained_model():
    """The shipped PilotNet's trained weights (a network that steers, so DLS's flaws show their real size)."""
    import torch

    from f1_brains.core.pilotnet import torch_pilotnet
    model = torch_pilotnet(seed=None)
    shipped = Path(__file__).resolve().parents[1] / "models" / "pilotnet" / "pilotnet.pt"
    model.load_state_dict(torch.jit.load(str(shipped)).state_dict())
    return model.eval()


@pytest.fixture(scope="module")
def dls_files(trained_model, tmp_path_factory) -> dict[str, Path]:
    return write_pytorch_artifacts(trained_model, tmp_path_factory.mktemp("dls"), road_frames(8, seed=3))


def brain_for(path: Path, **spec) -> Brain:
    return Brain.from_spec(BrainSpec.from_dict({"name": "dls", "model": str(path), "warmup": 0, **spec}))


def raw_outputs(brain: Brain, frames) -> np.ndarray:
    return np.concatenate([brain.backend.predict(brain.card.preprocess(f)) for f in frames])


def check_runs_as_dls(brain: Brain, reference: np.ndarray, frames, kind: str, path: Path, tolerance: float) -> None:
    """The card is DLS's PyTorch preprocessing exactly, the outputs equal ``reference``, and (v, w) are DLS's."""
    assert brain.card.name == "dls_pytorch_pilotnet"
    for f in frames:   # the same pixels: crop and cv2 bilinear resize
        assert np.array_equal(brain.card.crop_resize(f).transpose(2, 0, 1)[None], np.round(torch_input(f) * 255))
    tensor_error = max(float(np.abs(brain.card.preprocess(f) - torch_input(f)).max()) for f in frames)
    assert tensor_error <= 6e-8   # x * (1/255) against ToTensor's x / 255: one float32 step at most
    got = raw_outputs(brain, frames)
    error = float(np.abs(got - reference).max())
    assert error <= tolerance, (kind, got, reference)
    v, w = brain.card.postprocess(got[0])
    assert (v, w) == pytest.approx((6.5 + got[0, 0] * 17.5, -7.1 + got[0, 1] * 14.2))
    ROWS[kind] = [kind, path.name, f"{brain.backend.name}: {brain.describe().get('artifact_kind', '')}",
                  f"same pixels, tensor within {tensor_error:.0e}", f"{error:.1e}"]


@pytest.mark.parametrize("kind", ["state_dict .pth", "state_dict .ckpt"])
def test_train_py_state_dicts_load_and_match(dls_files, trained_model, frames, kind):
    brain = brain_for(dls_files[kind])
    assert brain.describe()["artifact_kind"] == "state_dict (DeepLearningStudio keys)"
    reference = torch_outputs(dls_pilotnet(trained_model).eval(), frames)
    check_runs_as_dls(brain, reference, frames, kind, dls_files[kind], 1e-5)


@pytest.mark.parametrize("kind", ["TorchScript baseline (traced in eval mode)", "TorchScript dynamic int8",
                                  "TorchScript static int8", "TorchScript QAT int8", "TorchScript local prune"])
def test_optimize_models_torchscript_files_match_themselves_as_dls_runs_them(dls_files, frames, kind):
    import torch
    path = dls_files[kind]
    brain = brain_for(path)
    assert brain.backend.name == ("torch_quantized" if "int8" in kind else "torchscript")
    assert brain.backend.warnings == []
    check_runs_as_dls(brain, torch_outputs(torch.jit.load(str(path)), frames), frames, kind, path, 1e-5)


def test_baseline_traced_in_training_mode_is_named_at_load_and_can_run_with_its_trained_statistics(
        dls_files, trained_model, frames, capsys):
    import torch
    kind = "TorchScript baseline (traced in training mode)"
    path = dls_files[kind]
    as_saved = brain_for(path)
    assert len(as_saved.backend.warnings) == 1 and "BatchNorm in training mode" in as_saved.backend.warnings[0]
    assert as_saved.describe()["warnings"] == as_saved.backend.warnings   # the node and BM log describe()'s warnings
    saved = torch_outputs(torch.jit.load(str(path)), frames)      # what DLS's file computes: per-frame statistics
    check_runs_as_dls(as_saved, saved, frames, kind, path, 1e-5)
    trained = torch_outputs(dls_pilotnet(trained_model).eval(), frames)
    assert np.abs(saved - trained).max() > 0.05                  # the flaw is real, not a formality
    # eval mode on the file's own statistics, which the trace moved toward its torch.rand example (5 batches)
    file_weights = dls_pilotnet(trained_model)
    file_weights.load_state_dict(torch.jit.load(str(path)).state_dict())
    fixed = brain_for(path, options={"batchnorm": "eval"})
    assert fixed.backend.warnings == []
    check_runs_as_dls(fixed, torch_outputs(file_weights.eval(), frames), frames, kind + ", `batchnorm: eval`",
                      path, 1e-5)
    moved = float(np.abs(raw_outputs(fixed, frames) - trained).max())
    assert 0 < moved < np.abs(saved - trained).max()   # closer to the trained network than as saved, not equal
    ROWS[kind + ", `batchnorm: eval`"][-1] += f" (to the trained statistics: {moved:.3f}; as saved: " \
                                              f"{np.abs(saved - trained).max():.3f})"
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "kind: torchscript" in out and "warning:" in out and "batchnorm: eval" in out
    assert "preset dls_pytorch_pilotnet" in out and "66 rows x 200 columns (linear)" in out


@pytest.mark.parametrize("backend", ["onnxruntime", "tflite", "keras"])
def test_a_state_dict_runs_on_other_backends_exported_once_on_load(dls_files, trained_model, frames, backend, tmp_path,
                                                                    monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = dls_files["state_dict .pth"]
    brain = brain_for(path, backend=backend)
    assert brain.backend.name == backend and brain.describe()["exported_from"] == str(path)
    assert brain.backend.path.parent == tmp_path / "f1_brains" / "exported"
    assert brain.card.name == "dls_pytorch_pilotnet"
    assert brain.card.input.layout == ("NCHW" if backend == "onnxruntime" else "NHWC")
    for f in frames:   # DLS's preprocessing, in the layout of the exported network
        x = torch_input(f)
        assert np.abs(brain.card.preprocess(f) - (x if backend == "onnxruntime" else x.transpose(0, 2, 3, 1))).max() < 6e-8
    error = float(np.abs(raw_outputs(brain, frames) - torch_outputs(dls_pilotnet(trained_model).eval(), frames)).max())
    assert error < 1e-4
    ROWS[f"state_dict .pth on {backend}"] = [f"state_dict .pth on {backend}", path.name,
                                             f"{backend}: exported on load, once", "same pixels", f"{error:.1e}"]
    written = brain.backend.path.stat().st_mtime_ns
    again = brain_for(path, backend=backend)
    assert again.backend.path == brain.backend.path and again.backend.path.stat().st_mtime_ns == written


def test_a_pth_that_is_no_pilotnet_is_refused_naming_the_file_and_what_was_expected(tmp_path, trained_model):
    import torch
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a model" * 10)
    with pytest.raises(ModelLoadError, match=r"garbage.pth is neither a TorchScript archive nor a PyTorch state_dict"):
        brain_for(garbage)
    other = tmp_path / "resnet.pth"
    torch.save(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Linear(8, 2)).state_dict(), other)
    with pytest.raises(ModelLoadError, match=r"resnet.pth is a state_dict of another network .*not PilotNet .*ln_1"):
        brain_for(other)
    three = tmp_path / "three_outputs.ckpt"
    state = dls_pilotnet(trained_model).state_dict()
    state["fc_5.weight"], state["fc_5.bias"] = torch.zeros(3, 10), torch.zeros(3)
    torch.save(state, three)
    with pytest.raises(ModelLoadError, match=r"three_outputs.ckpt is a state_dict of another PilotNet: fc_5.weight"):
        brain_for(three)
    partial = tmp_path / "partial.pth"
    del state["fc_4.bias"]
    torch.save(state, partial)
    with pytest.raises(ModelLoadError, match=r"partial.pth .* not PilotNet: missing fc_4.bias"):
        brain_for(partial)
    listed = tmp_path / "list.pth"
    torch.save([1, 2, 3], listed)
    with pytest.raises(ModelLoadError, match=r"list.pth holds a list, not a state_dict"):
        brain_for(listed)
    assert main(["info", str(garbage)]) == 2


def test_export_from_a_dls_state_dict_keeps_dls_preprocessing(dls_files, trained_model, frames, tmp_path):
    out = tmp_path / "exported"
    assert main(["export", "--weights", str(dls_files["state_dict .pth"]), "--out", str(out),
                 "--formats", "onnx", "tflite"]) == 0
    trained = torch_outputs(dls_pilotnet(trained_model).eval(), frames)
    for name in ("pilotnet.onnx", "pilotnet.tflite"):
        card = ModelCard.load(out / f"{name}.card.yaml")
        assert card.input.interpolation == "linear" and card.output.ranges == {"v": (6.5, 24.0), "w": (-7.1, 7.1)}
        assert card.provenance["weights_naming"] == "DeepLearningStudio"
        assert np.abs(raw_outputs(brain_for(out / name), frames) - trained).max() < 1e-4


def test_optimize_from_a_dls_state_dict_on_a_dls_dataset(dls_files, dls_dataset, tmp_path):
    """The walk-through's step 3: DLS's weights, fine-tuned and calibrated on DLS folders, cards with DLS's resize."""
    import json
    out = tmp_path / "mine"
    assert main(["optimize", "--weights", str(dls_files["state_dict .pth"]), "--data", str(dls_dataset),
                 "--out", str(out), "--steps", "2", "--variants", "onnx_int8", "torch_qat_int8"]) == 0
    report = json.loads((out / "optimize.json").read_text())["variants"]
    for name in ("onnx_int8", "torch_qat_int8"):
        path = Path(report[name]["path"])
        assert ModelCard.load(path.with_name(path.name + ".card.yaml")).input.interpolation == "linear"
        assert brain_for(path).card.output.ranges == {"v": (6.5, 24.0), "w": (-7.1, 7.1)}


# ---- DLS datasets: <n>.png frames + data.csv ----

@pytest.fixture(scope="module")
def dls_dataset(tmp_path_factory) -> Path:
    """12 frames, so 10.png and 11.png sort after 9.png only in numeric order (as DLS pairs them)."""
    labels = [(6.5 + i, -3.0 + 0.5 * i) for i in range(12)]
    return write_dataset(tmp_path_factory.mktemp("dls_data") / "many_curves_clockwise_1", road_frames(12, seed=21),
                         labels)


def test_dls_dataset_reads_as_dls_pairs_and_preprocesses_it(dls_dataset):
    from f1_brains.zoo import dataset
    pixels, columns, manifest = dataset.load(dls_dataset)
    assert np.array_equal(pixels, dataset_pixels(dls_dataset))
    assert columns["v"].tolist() == [6.5 + i for i in range(12)]     # row i labels image i.png, 10.png after 9.png
    assert set(columns["group"]) == {"many_curves_clockwise_1"}
    assert manifest["label_ranges"] == {"v": [6.5, 24.0], "w": [-7.1, 7.1]}
    assert manifest["card_input"]["interpolation"] == "linear" and manifest["pairing_disagreements"] == 0


def test_train_bench_and_export_take_a_dls_dataset(dls_dataset, exported, tmp_path, capsys):
    import json
    out = tmp_path / "trained"
    assert main(["train", "--data", str(dls_dataset), "--out", str(out), "--epochs", "1", "--batch", "4",
                 "--val", "fraction:0.25"]) == 0
    result = json.loads((out / "training.json").read_text())
    assert result["frames_train"] == 9 and result["frames_val"] == 3
    card = ModelCard.load(out / "training_card.yaml")
    assert card.input.interpolation == "linear" and card.output.ranges == {"v": (6.5, 24.0), "w": (-7.1, 7.1)}
    bench_json = tmp_path / "bench.json"
    assert main(["bench", str(exported["onnx"]), "-n", "3", "--warmup", "1", "--data", str(dls_dataset),
                 "--json", str(bench_json)]) == 0
    assert json.loads(bench_json.read_text())["rows"][0]["test_frames"] == 12
    assert main(["export", "--weights", str(out / "pilotnet_state.pt"), "--out", str(tmp_path / "m"),
                 "--formats", "torchscript", "--calibration", str(dls_dataset)]) == 0
    assert ModelCard.load(tmp_path / "m" / "pilotnet.pt.card.yaml").input.interpolation == "linear"


def test_bad_dls_datasets_are_refused_naming_the_file(dls_dataset, tmp_path, capsys):
    import shutil

    from f1_brains.errors import ConfigError
    from f1_brains.zoo import dataset

    def variant(name: str) -> Path:
        copy = tmp_path / name
        shutil.copytree(dls_dataset, copy)
        return copy

    no_w = variant("no_w")
    (no_w / "data.csv").write_text("image_name,v,timestamp\n" + "".join(f"{i}.png,7,0\n" for i in range(12)))
    with pytest.raises(ConfigError, match=r"no_w/data.csv: no column w"):
        dataset.load(no_w)
    text = variant("text")
    lines = (text / "data.csv").read_text().splitlines()
    lines[4] = "3.png,fast,0.1,1000.15"
    (text / "data.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match=r"text/data.csv line 5: v, w must be numbers, not 'fast'"):
        dataset.load(text)
    short = variant("short")
    (short / "11.png").unlink()
    with pytest.raises(ConfigError, match=r"short: 11 PNG images but 12 rows in data.csv"):
        dataset.load(short)
    named = variant("named")
    (named / "0.png").rename(named / "first.png")
    with pytest.raises(ConfigError, match=r"first.png is not named <number>.png"):
        dataset.load(named)
    broken = variant("broken")
    (broken / "5.png").write_bytes(b"not a png")
    with pytest.raises(ConfigError, match=r"broken/5.png: not a readable image"):
        dataset.load(broken)
    with pytest.raises(ConfigError, match=r"empty is no dataset"):
        dataset.load(tmp_path / "empty")
    swapped = variant("swapped")
    lines = (swapped / "data.csv").read_text().splitlines()
    lines[1], lines[2] = lines[1].replace("0.png", "1.png"), lines[2].replace("1.png", "0.png")
    (swapped / "data.csv").write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    assert dataset.load(swapped)[2]["pairing_disagreements"] == 2   # paired as DLS does, and said so
    assert "2 rows name another image" in capsys.readouterr().err
    assert main(["train", "--data", str(no_w), "--out", str(tmp_path / "t")]) == 2


def test_validation_splits():
    from f1_brains.errors import ConfigError
    from f1_brains.zoo.train import validation_mask
    groups = np.array(["simple_circuit/0"] * 4 + ["simple_circuit/1"] * 4 + ["many_curves/0"] * 4)
    rng = np.random.default_rng(0)
    assert validation_mask(groups, "laps:1", rng).sum() == 4
    assert validation_mask(groups, "groups:simple_circuit", rng).tolist() == [True] * 8 + [False] * 4
    assert validation_mask(groups, "groups:many_curves/0", rng).sum() == 4
    assert validation_mask(groups, "fraction:0.25", rng).tolist() == ([False] * 3 + [True]) * 3
    for bad in ("laps", "fraction:1.5", "groups:montreal", "random:3", "groups:simple_circuit,many_curves"):
        with pytest.raises(ConfigError, match="validation split"):
            validation_mask(groups, bad, rng)


# ---- DLS's TensorFlow PilotNet: declared (200, 66, 3), trained on 66x200 images ----

@pytest.fixture(scope="module")
def dls_tf(tmp_path_factory):
    model = dls_tf_pilotnet()
    return model, write_tf_artifacts(model, tmp_path_factory.mktemp("dls_tf"), road_frames(16, seed=5))


def keras_outputs(model, inputs: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([model(x, training=False).numpy() for x in inputs])


def bm_tf_input(frame: np.ndarray) -> np.ndarray:
    """BehaviorMetrics' feeding of the declared shape: cv2.resize to 66 columns x 200 rows (a transposed image)."""
    import cv2
    x = cv2.resize(frame, (66, 200)).astype(np.float32) / 255
    return ((x - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225]))[None].astype(np.float32)


def check_tf_runs_as_dls(brain: Brain, reference: np.ndarray, frames, kind: str, path: Path, tolerance: float,
                         feed=tf_input) -> float:
    tensor_error = max(float(np.abs(brain.card.preprocess(f) - feed(f)).max()) for f in frames)
    assert tensor_error < 1e-5, kind
    error = float(np.abs(raw_outputs(brain, frames) - reference).max())
    assert error <= tolerance, (kind, error)
    ROWS[kind] = [kind, path.name, f"{brain.backend.name}, card {brain.card.name} {brain.card.input.height}x"
                  f"{brain.card.input.width}", f"same pixels, tensor within {tensor_error:.0e}", f"{error:.1e}"]
    return error


# float formats against the Keras model on DLS's training input; tolerances: float32 arithmetic, float16 weights,
# int8 dynamic-range weights
TF_FLOAT = {"Keras .h5": 1e-5, "Keras .h5 with DLS metadata": 1e-5, "TFLite float": 1e-4, "TFLite float16": 2e-3,
            "TFLite dynamic range": 0.02}


@pytest.mark.parametrize("kind", list(TF_FLOAT))
def test_tf_files_are_fed_as_dls_trained_them(dls_tf, frames, kind):
    model, files = dls_tf
    brain = brain_for(files[kind])
    assert brain.card.name == "dls_tf_pilotnet" and brain.card.input_shape == (1, 66, 200, 3)
    assert brain.card.input.crop_rows == (0, 480) and brain.card.input.normalization == "imagenet"
    assert any("declares input (None, 200, 66, 3)" in w for w in brain.backend.warnings)
    reference = keras_outputs(model, [tf_input(f) for f in frames])
    check_tf_runs_as_dls(brain, reference, frames, kind, files[kind], TF_FLOAT[kind])


def test_bm_feeding_of_the_declared_shape_is_a_card_away_and_differs(dls_tf, frames, capsys):
    model, files = dls_tf
    bm = brain_for(files["Keras .h5"], card="dls_tf_pilotnet_bm")
    assert bm.card.input_shape == (1, 200, 66, 3) and bm.backend.warnings == []
    as_bm = keras_outputs(model, [bm_tf_input(f) for f in frames])
    check_tf_runs_as_dls(bm, as_bm, frames, "Keras .h5, card dls_tf_pilotnet_bm (BM's feeding)", files["Keras .h5"],
                         1e-5, feed=bm_tf_input)
    trained = keras_outputs(model, [tf_input(f) for f in frames])
    assert np.abs(as_bm - trained).max() > 1e-3   # the orientation changes what the network answers
    assert main(["info", str(files["Keras .h5"])]) == 0
    out = capsys.readouterr().out
    assert "66 rows x 200 columns" in out and "note: DeepLearningStudio declares" in out


def test_savedmodel_is_rebuilt_from_its_variables_and_fed_as_trained(dls_tf, frames, exported):
    model, files = dls_tf
    brain = brain_for(files["SavedModel"])
    assert brain.card.name == "dls_tf_pilotnet" and brain.card.input_shape == (1, 66, 200, 3)
    assert any("rebuilt from its variables" in w for w in brain.backend.warnings)
    check_tf_runs_as_dls(brain, keras_outputs(model, [tf_input(f) for f in frames]), frames,
                         "SavedModel (signature fixed: rebuilt from its variables)", files["SavedModel"], 1e-5)
    # a card-less SavedModel that cannot be rebuilt (its input fixed, another network) is fed as declared, warned
    import shutil
    fixed = exported["saved_model"].parent / "cardless_savedmodel"
    shutil.copytree(exported["saved_model"], fixed, ignore=shutil.ignore_patterns("card.yaml"))
    declared = brain_for(fixed)
    assert declared.card.name == "dls_tf_pilotnet_bm" and declared.card.input_shape == (1, 66, 200, 3)
    assert any("fed 66 rows x 200 columns as BehaviorMetrics feeds it, not the 200 x 66" in w
               for w in declared.backend.warnings)
    # a SavedModel of another network cannot be rebuilt: a card feeding it transposed is refused, saying what runs it
    transposed = write_card_like(exported["saved_model"].parent, "dls_tf_pilotnet_bm")   # 200 x 66 for a 66 x 200 net
    with pytest.raises(ModelLoadError, match=r"takes a fixed input .*a card with the declared size"):
        brain_for(exported["saved_model"], card=str(transposed))


def write_card_like(folder: Path, name: str) -> Path:
    from f1_brains.core.model_card import preset
    return preset(name).save(folder / f"{name}_copy.yaml")


@pytest.mark.parametrize("kind", ["TFLite int-only, uint8 I/O (calibrated on raw pixels)",
                                  "TFLite int8 with float fallback (calibrated on raw pixels)"])
def test_int8_tflite_calibrated_on_raw_pixels_runs_as_dls_does_and_is_named(dls_tf, frames, kind):
    from ai_edge_litert.interpreter import Interpreter
    _, files = dls_tf
    brain = brain_for(files[kind])
    interpreter = Interpreter(model_path=str(files[kind]))
    interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], [1, 66, 200, 3])
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    reference = []
    for frame in frames:   # by hand: quantize with the input's own scale, de-quantize the output
        x = tf_input(frame)
        if inp["dtype"] == np.uint8:
            scale, zero = inp["quantization"]
            x = np.clip(np.round(x / scale + zero), 0, 255).astype(np.uint8)
        interpreter.set_tensor(inp["index"], x)
        interpreter.invoke()
        y = interpreter.get_tensor(out["index"]).astype(np.float32)
        if out["dtype"] == np.uint8:
            scale, zero = out["quantization"]
            y = (y - zero) * scale
        reference.append(y)
    check_tf_runs_as_dls(brain, np.concatenate(reference), frames, kind, files[kind], 1e-6)
    if inp["dtype"] == np.uint8:
        assert any("integer input represents [0, 2" in w and "levels used" in w for w in brain.backend.warnings)


def test_optimize_keras_builds_dls_tf_variants_declaring_what_they_are_fed(dls_tf, dls_dataset, frames, tmp_path):
    import json
    model, files = dls_tf
    out = tmp_path / "optimized"
    rc = main(["optimize", "--keras", str(files["Keras .h5 with DLS metadata"]), "--data", str(dls_dataset),
               "--out", str(out), "--steps", "3", "--variants", "tflite", "tflite_int8", "tflite_qat", "onnx"])
    report = json.loads((out / "optimize.json").read_text())["variants"]
    assert rc == 0, report
    assert report["onnx"]["status"] == "skipped" and "--weights" in report["onnx"]["reason"]
    trained = keras_outputs(model, [tf_input(f) for f in frames])
    # float: exact; int8 calibrated on 12 frames: 0.009 measured (outputs span 0.035); QAT trained on toward the
    # labels for 3 steps: not the float function any more, only its shape and card are checked
    for name, tolerance in (("tflite", 1e-4), ("tflite_int8", 0.02), ("tflite_qat", None)):
        path = Path(report[name]["path"])
        brain = brain_for(path)
        assert brain.backend.input_spec.shape[1:] == (66, 200, 3) and brain.backend.warnings == []
        assert brain.card.input.crop_rows == (0, 480) and brain.card.input.normalization == "imagenet"
        assert brain.card.provenance["declared_input"] == [200, 66]
        if tolerance is not None:
            assert np.abs(raw_outputs(brain, frames) - trained).max() < tolerance, name


def test_optimize_keras_refuses_another_network_and_our_cropped_datasets(exported, dls_tf, tmp_path, capsys):
    import json
    assert main(["optimize", "--keras", str(exported["keras"]), "--out", str(tmp_path / "o")]) == 2
    assert "is not DeepLearningStudio's TF PilotNet (layer 1: ('Conv2D', 24, (5, 5), (2, 2), 'valid'" in \
        capsys.readouterr().err
    ours = tmp_path / "ours"   # our dataset layout: frames stored cropped to rows 240:480
    ours.mkdir()
    np.save(ours / "frames.npy", np.zeros((4, 66, 200, 3), np.uint8))
    (ours / "data.csv").write_text("v,w,circuit,lap\n" + "7,0,simple_circuit,0\n" * 4)
    (ours / "manifest.json").write_text(json.dumps({"card_input": ModelCard().to_dict()["input"]}))
    assert main(["optimize", "--keras", str(dls_tf[1]["Keras .h5"]), "--data", str(ours), "--out",
                 str(tmp_path / "o2"), "--variants", "tflite_qat"]) == 2
    assert "ours stores camera rows (240, 480) at 200x66; the network needs rows (0, 480)" in capsys.readouterr().err


def _tf_trt_problem():
    from f1_brains.core.backends.tf_trt import tf_trt_problem
    return tf_trt_problem()


@pytest.mark.skipif(_tf_trt_problem() is not None, reason=f"TF-TRT cannot run here: {_tf_trt_problem()}")
def test_dls_savedmodel_converted_by_tf_trt_runs_as_declared(dls_tf, frames, tmp_path):
    """DLS's tensorrt_optimize.py converts the SavedModel with TrtGraphConverterV2; ours does the same (FP16)."""
    from f1_brains.zoo.tensorrt_formats import convert_tf_trt
    model, files = dls_tf
    out = convert_tf_trt(files["SavedModel"], tmp_path / "trt_fp16", "FP16", build_shape=(1, 200, 66, 3))
    brain = brain_for(out, device="cuda")
    assert brain.backend.name == "tf_trt" and brain.card.name == "dls_tf_pilotnet_bm"
    check_tf_runs_as_dls(brain, keras_outputs(model, [bm_tf_input(f) for f in frames]), frames,
                         "TF-TRT FP16 of the SavedModel", out, 2e-2, feed=bm_tf_input)
