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
    torch_input,
    torch_outputs,
    write_dataset,
    write_pytorch_artifacts,
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
