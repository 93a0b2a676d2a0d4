"""Brain = card + backend: decisions, clamping, timings, spec files and the errors they give."""
from pathlib import Path

import numpy as np
import pytest
import yaml

from f1_brains.core.backends import load_backend
from f1_brains.core.brain import Brain, BrainSpec, Limits, load_brain
from f1_brains.core.model_card import InputSpec, ModelCard
from f1_brains.errors import BadImage, BadOutput, ConfigError, ModelLoadError
from f1_brains.util import paths


def spec_for(path: Path, **extra) -> BrainSpec:
    return BrainSpec.from_dict({"name": "t", "model": str(path), **extra})


def test_brain_step_matches_the_network_and_reports_timings(exported, frames, reference_outputs):
    brain = Brain.from_spec(spec_for(exported["onnx"]))
    d = brain.step(frames[0])
    expected = brain.card.postprocess(reference_outputs[0])
    assert (d.v, d.w) == pytest.approx(expected, abs=1e-3)
    assert (d.unclamped_v, d.unclamped_w) == pytest.approx(expected, abs=1e-3)
    assert d.preprocess_s > 0 and d.inference_s > 0 and d.postprocess_s >= 0
    assert brain.first_inference_s > 0 and brain.warmup == 10


def test_commands_are_clamped_to_the_limits(exported, frames):
    brain = Brain.from_spec(spec_for(exported["onnx"], limits={"max_v": 7.0, "max_w": 0.001, "min_v": 0.0}))
    d = brain.step(frames[0])
    assert d.v == 7.0 and d.unclamped_v > 7.0       # the untrained network asks for about 9 m/s
    assert abs(d.w) <= 0.001 and abs(d.unclamped_w) > 0.001
    assert Limits(max_v=5, min_v=1, max_w=2).clamp(-3, -9) == (1, -2)


def test_nan_output_raises_bad_output(nan_model, frames):
    brain = Brain.from_spec(spec_for(nan_model, backend="torchscript"))
    with pytest.raises(BadOutput, match="non-finite"):
        brain.step(frames[0])


def test_bad_image_raises_bad_image(exported):
    brain = Brain.from_spec(spec_for(exported["onnx"]))
    with pytest.raises(BadImage, match="mono8"):
        brain.step(np.zeros((480, 640, 3), np.uint8), "mono8")


def test_card_that_does_not_match_the_model_is_refused(exported, tmp_path):
    nhwc = ModelCard(name="wrong_layout", input=InputSpec(layout="NHWC")).save(tmp_path / "nhwc.yaml")
    # A model with recorded input shapes: caught by comparing shapes.
    with pytest.raises(ModelLoadError, match=r"wrong_layout.*\(1, 66, 200, 3\).*pilotnet.onnx"):
        Brain.from_spec(spec_for(exported["onnx"], card=str(nhwc)))
    # TorchScript records no shapes: caught by the first inference, still at load time.
    with pytest.raises(ModelLoadError, match=r"pilotnet.pt rejects the input \(1, 66, 200, 3\)"):
        Brain.from_spec(spec_for(exported["torchscript"], card=str(nhwc)))


def test_card_can_be_a_preset(exported):
    brain = Brain.from_spec(spec_for(exported["torchscript"], card="dls_pytorch_pilotnet"))
    assert brain.card.name == "dls_pytorch_pilotnet"


@pytest.mark.parametrize("data,match", [
    ({"name": "x"}, "'model'"),
    ({"name": "x", "model": "m.onnx", "gpu": True}, r"unknown keys \['gpu'\]"),
    ({"name": "x", "model": "m.onnx", "limits": {"max_speed": 3}}, "limits"),
    ({"name": "x", "model": "m.onnx", "limits": {"max_w": -1}}, "max_w -1 is negative"),
    ({"name": "x", "model": "m.onnx", "limits": {"max_v": 2, "min_v": 5}}, "min_v 5 is above max_v 2"),
    ({"name": "x", "model": "m.onnx", "limits": {"max_v": float("nan")}}, "max_v must be a finite number"),
    ({"name": "x", "model": "m.onnx", "limits": {"max_v": "fast"}}, "max_v must be a finite number, not 'fast'"),
    ({"name": "x", "model": "m.onnx", "limits": [1, 2]}, "limits"),
    ({"name": "x", "model": "m.onnx", "threads": 100000}, "threads must be a whole number from 0 to"),
    ({"name": "x", "model": "m.onnx", "threads": -3}, "threads must be"),
    ({"name": "x", "model": "m.onnx", "threads": "two"}, "threads must be"),
    ({"name": "x", "model": "m.onnx", "warmup": "ten"}, "warmup must be"),
])
def test_bad_brain_specs(data, match):
    with pytest.raises(ConfigError, match=match):
        BrainSpec.from_dict(data)


def test_unknown_brain_name_lists_the_known_ones():
    with pytest.raises(ConfigError, match="unknown brain 'nope'.*pilotnet_onnx"):
        BrainSpec.load("nope")


def test_brain_yaml_by_path_with_missing_model(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({"model": str(tmp_path / "gone.onnx")}))
    spec = BrainSpec.load(str(path))
    assert spec.name == "mine"
    with pytest.raises(ModelLoadError, match="model .*gone.onnx does not exist"):
        Brain.from_spec(spec)
    with pytest.raises(ModelLoadError, match="gone.onnx"):
        load_backend(tmp_path / "gone.onnx")


def test_overrides_are_checked_like_the_file():
    spec = BrainSpec.from_dict({"name": "x", "model": "m.onnx"})
    with pytest.raises(ConfigError, match="brain 'x': threads must be"):
        spec.with_overrides(threads=-1)


SHIPPED = sorted(p.stem for p in paths.brains_dir().glob("*.yaml"))


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_brain_loads_and_decides(name, frames):
    spec = BrainSpec.load(name)
    if spec.type == "network":
        assert paths.resolve(spec.model).exists(), f"{spec.model} missing: run `make models`"
    brain = load_brain(name, warmup=1)
    d = brain.step(frames[0])
    assert spec.limits.min_v <= d.v <= spec.limits.max_v and abs(d.w) <= spec.limits.max_w
