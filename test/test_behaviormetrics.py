"""BehaviorMetrics: the brain module under BM's contract, BM Parameters -> cards, DeepLearningStudio-shaped
artifacts through presets, the Gazebo launch path, and a lap driven the way BM's pilot drives."""
import importlib.util
import json
import logging
import re
import shutil
import subprocess
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import REPO, free_port, ros_env
from dls_reference import dls_pilotnet, dls_tf_pilotnet, torch_input, write_pytorch_artifacts, write_tf_artifacts

from f1_brains.core.brain import Brain, BrainSpec
from f1_brains.core.model_card import (
    DLS_RANGES,
    ModelCard,
    dls_preset_for,
    preset,
)
from f1_brains.core.synthetic import road_frames
from f1_brains.ros.behaviormetrics import (
    bm_model_dirs,
    card_from_parameters,
    spec_for_model,
)

SHIM = REPO / "brains/brain_f1_brains.py"
V0, V1 = DLS_RANGES["v"]
W0, W1 = DLS_RANGES["w"]


# ---- BM-shaped stand-ins for unit tests (the ROS test below uses real subscriptions) ----

class Camera:
    def __init__(self):
        self.image = SimpleNamespace(data=np.zeros((3, 3, 3), np.uint8))   # BM's placeholder before a frame

    def getImage(self):
        return self.image


class Motors:
    def __init__(self, max_v=24.0, max_w=7.1):
        self.max_v, self.max_w, self.v, self.sent = max_v, max_w, None, []

    def sendV(self, v):
        self.v = v

    def sendW(self, w):
        self.sent.append((self.v, w))

    def getMaxV(self):
        return self.max_v

    def getMaxW(self):
        return self.max_w


class Handler:
    def __init__(self):
        self.frames = {}

    def update_frame(self, frame_id, data):
        self.frames[frame_id] = data


def bm_objects(motors=None):
    camera, motors = Camera(), motors or Motors()
    sensors = SimpleNamespace(get_camera={"camera_0": camera}.__getitem__)
    actuators = SimpleNamespace(get_motor={"motors_0": motors}.__getitem__)
    return sensors, actuators, camera, motors


@pytest.fixture(scope="module")
def shim():
    """brains/brain_f1_brains.py imported from its file, as BM imports its brain modules."""
    spec = importlib.util.spec_from_file_location("brain_f1_brains", SHIM)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def construct(shim, model, config=None, motors=None, handler=None):
    sensors, actuators, camera, motors = bm_objects(motors)
    brain = shim.Brain(sensors, actuators, model=model, handler=handler, config=config)
    return brain, camera, motors


# ---- the module under BM's contract ----

def test_execute_drives_and_fills_what_bm_metrics_read(shim, frames):
    handler = Handler()
    brain, camera, motors = construct(shim, "pilotnet_onnx", {"GPU": False, "UseOptimized": True}, handler=handler)
    brain.execute()                                     # no frame yet: BM's 3x3 placeholder
    assert motors.sent == [(0.0, 0.0)] and brain.first_image is None and brain.waiting == 1
    for frame in frames:
        camera.image = SimpleNamespace(data=frame)
        brain.execute()
    assert len(motors.sent) == 1 + len(frames) and brain.faults == 0
    assert isinstance(brain.inference_times, list) and len(brain.inference_times) == len(frames)
    assert all(isinstance(t, float) and 0 < t < 1 for t in brain.inference_times)
    assert isinstance(brain.suddenness_distance, list) and len(brain.suddenness_distance) == len(frames) - 1
    assert all(isinstance(d, float) and d >= 0 for d in brain.suddenness_distance)
    assert brain.gpu_inference is False
    assert brain.first_image is frames[0] and brain.first_image.shape == (480, 640, 3)
    assert handler.frames["frame_0"] is frames[-1] and handler.frames["frame_1"].shape == (66, 200, 3)
    # the commands are the brain's own decisions on the same frame
    d = brain.brain.step(frames[-1])
    assert motors.sent[-1] == pytest.approx((d.v, d.w))


def test_suddenness_uses_the_networks_raw_outputs_as_bm_does(shim, frames):
    brain, camera, motors = construct(shim, "pilotnet_onnx")
    (v0, v1), (w0, w1) = brain.card.output.ranges["v"], brain.card.output.ranges["w"]   # the card's, not DLS's
    outs = []
    for frame in frames[:3]:
        camera.image = SimpleNamespace(data=frame)
        brain.execute()
        d = brain.brain.step(frame)
        outs.append(((d.unclamped_v - v0) / (v1 - v0), (d.unclamped_w - w0) / (w1 - w0)))   # de-normalization undone
    expected = [float(np.linalg.norm(np.subtract(b, a))) for a, b in zip(outs, outs[1:])]
    assert brain.suddenness_distance == pytest.approx(expected, abs=1e-6)


def test_motor_limits_from_the_bm_config_are_enforced(shim, frames):
    brain, camera, motors = construct(shim, "pilotnet_onnx", motors=Motors(max_v=3.0, max_w=0.05))
    camera.image = SimpleNamespace(data=frames[0])
    brain.execute()
    v, w = motors.sent[-1]
    assert 0 <= v <= 3.0 and abs(w) <= 0.05


def test_nan_output_stops_the_car_and_execute_does_not_raise(shim, nan_model, frames):
    brain, camera, motors = construct(shim, str(nan_model))
    camera.image = SimpleNamespace(data=frames[0])
    brain.execute()
    brain.execute()
    assert motors.sent == [(0.0, 0.0), (0.0, 0.0)] and brain.faults == 2
    assert "non-finite" in brain.last_error and brain.inference_times == []


def test_a_wrong_sized_frame_after_the_first_is_a_fault(shim, frames):
    brain, camera, motors = construct(shim, "pilotnet_onnx")
    camera.image = SimpleNamespace(data=frames[0])
    brain.execute()
    camera.image = SimpleNamespace(data=np.zeros((240, 320, 3), np.uint8))
    brain.execute()
    assert motors.sent[-1] == (0.0, 0.0) and brain.faults == 1 and "BadImage" in brain.last_error


def test_explicit_brain_is_served_too(shim, frames):
    brain, camera, motors = construct(shim, "explicit")
    camera.image = SimpleNamespace(data=frames[0])
    brain.execute()
    assert len(brain.inference_times) == 1 and brain.gpu_inference is False and motors.sent[-1][0] > 0


@pytest.mark.parametrize("model,config,reason", [
    (None, {}, "no model yet"),
    ("nope.pth", {}, r"ModelLoadError: BehaviorMetrics model 'nope.pth' not found; looked for .*nope.pth"),
    ("pilotnet_onnx", {"GPU": True}, "BackendUnavailable: .*CUDA"),
    ("pilotnet_onnx", {"ImageSize": "200x66"}, None),   # the card beside the model wins: Parameters unused
])
def test_a_brain_that_cannot_drive_holds_zero_says_why_once_and_never_raises(shim, frames, caplog, model, config,
                                                                              reason):
    """BM catches only AttributeError around a brain's constructor: anything else would end its whole batch."""
    caplog.set_level(logging.INFO, logger="f1_brains")
    brain, camera, motors = construct(shim, model, config)
    if reason is None:
        assert brain.not_driving is None
        return
    assert re.search(reason, brain.not_driving) and brain.brain is None
    told = [r.getMessage() for r in caplog.records if brain.not_driving in r.getMessage()]
    assert len(told) == 1
    for frame in frames[:3]:
        camera.image = SimpleNamespace(data=frame)
        brain.execute()
    assert motors.sent == [(0.0, 0.0)] * 3 and brain.inference_times == [] and brain.first_image is None
    running = [r for r in caplog.records if "is running this brain, but it cannot drive" in r.getMessage()]
    assert len(running) == 1 and running[0].levelname == "ERROR" and "21 inference times" in running[0].getMessage()
    assert brain.describe()["not_driving"] == brain.not_driving


def test_bm_loader_sequence_builds_without_a_model_then_reloads_with_one(shim, frames):
    """Script mode (REFERENCE.md 8): two constructions with model=None, then reload_brain(model=...), which
    re-imports the module file; GUI mode: no model argument, the model waits in the handler (BM's Brains)."""
    sensors, actuators, camera, motors = bm_objects()
    handler = SimpleNamespace(model=None, update_frame=lambda *_: None)
    for _ in range(2):
        brain = shim.Brain(sensors, actuators, handler=handler, config={"GPU": False})
        assert brain.brain is None
    reloaded = importlib.util.module_from_spec(importlib.util.spec_from_file_location("brain_f1_brains", SHIM))
    reloaded.__spec__.loader.exec_module(reloaded)
    brain = reloaded.Brain(sensors, actuators, model="pilotnet_onnx", handler=handler, config={"GPU": False})
    brain.execute()                                     # BM's 3x3 placeholder comes first
    camera.image = SimpleNamespace(data=frames[0])
    brain.execute()
    assert brain.not_driving is None and motors.sent[0] == (0.0, 0.0) and motors.sent[1][0] > 0
    gui = shim.Brain(sensors, actuators, handler=SimpleNamespace(model="pilotnet_onnx", update_frame=lambda *_: None),
                     config={"GPU": False})
    gui.execute()
    assert gui.not_driving is None and len(gui.inference_times) == 1


def test_artifact_without_card_or_parameters_is_refused(shim, exported, tmp_path):
    onnx = tmp_path / "mine.onnx"
    shutil.copy(exported["onnx"], onnx)
    brain, _, _ = construct(shim, str(onnx), {"GPU": False})
    assert re.search(r"ConfigError: .*mine.onnx has no card .*Parameters.*Card", brain.not_driving)
    brain, _, _ = construct(shim, str(onnx), {"ImageSize": "200x66"})
    assert "ImageSize must be" in brain.not_driving


def test_bm_parameters_make_the_card_of_an_artifact_without_one(shim, exported, reference_model, frames, tmp_path):
    import torch
    params = {"ImageCropped": True, "ImageSize": [200, 66], "ImageNormalized": False, "PredictionsNormalized": True}
    with pytest.MonkeyPatch.context() as mp:   # found under BM's models dir, not only by absolute path
        mp.chdir(tmp_path)
        (tmp_path / "models").mkdir()
        shutil.copy(exported["onnx"], tmp_path / "models" / "mine.onnx")   # no card beside it
        brain, camera, motors = construct(shim, "mine.onnx", params | {"GPU": False}, motors=Motors(99, 99))
    camera.image = SimpleNamespace(data=frames[1])
    brain.execute()
    with torch.no_grad():
        p = reference_model(torch.from_numpy(torch_input(frames[1]))).numpy()[0]
    assert motors.sent[-1] == pytest.approx((V0 + p[0] * (V1 - V0), W0 + p[1] * (W1 - W0)), abs=1e-3)
    assert brain.card.input.layout == "NCHW" and brain.card.input.normalization == "unit"


@pytest.mark.parametrize("params,expected", [
    ({"ImageCropped": False}, {"crop_rows": (0, 480)}),
    ({"ImageCrop": True}, {"crop_rows": (240, 480)}),        # BM's torch brain's spelling
    ({"ImageSize": [100, 50]}, {"width": 100, "height": 50}),
    ({"ImageNormalized": True}, {"normalization": "imagenet"}),
    ({"ImageNormalized": False}, {"normalization": "unit"}),   # NCHW base: ToTensor
])
def test_card_from_parameters(params, expected):
    card = card_from_parameters(params, preset("dls_pytorch_pilotnet"))
    assert {k: getattr(card.input, k) for k in expected} == expected
    assert card.provenance["behaviormetrics_parameters"] == params


def test_card_from_parameters_outputs_and_tf_layout():
    tf = card_from_parameters({"ImageNormalized": False, "PredictionsNormalized": False}, preset("dls_tf_pilotnet"))
    assert tf.input.normalization == "none" and not tf.output.normalized
    assert tf.postprocess(np.array([5.0, -1.0])) == (5.0, -1.0)
    norm = card_from_parameters({"PredictionsNormalized": True}, ModelCard())
    assert norm.postprocess(np.array([1.0, 0.0])) == pytest.approx((V1, W0))


def test_model_lookup_order(tmp_path):
    (tmp_path / "models/gazebo/torch_models").mkdir(parents=True)
    brain_file = tmp_path / "brains/gazebo/f1/brain_f1_brains.py"
    brain_file.parent.mkdir(parents=True)
    dirs = bm_model_dirs(brain_file, cwd=tmp_path / "elsewhere")
    assert dirs == [tmp_path / "models", tmp_path / "models/gazebo/torch_models"]
    (tmp_path / "models/gazebo/torch_models/x.pth").write_bytes(b"")
    assert spec_for_model("x.pth", dirs).model == str(tmp_path / "models/gazebo/torch_models/x.pth")
    assert spec_for_model("pilotnet_tflite", dirs).backend == "tflite"              # one of our brains
    assert spec_for_model("models/pilotnet/pilotnet.onnx", dirs).name == "pilotnet"  # under this package


@pytest.mark.parametrize("config", sorted((REPO / "behaviormetrics/configs").glob("*.yml")), ids=lambda p: p.name)
def test_example_bm_configs_are_consistent(config):
    import yaml
    b = yaml.safe_load(config.read_text())["Behaviors"]
    robot, worlds, bags = b["Robot"], b["Simulation"]["World"], b["Stats"]["PerfectLap"]
    listed = lambda x: x if isinstance(x, list) else [x]  # noqa: E731  (script mode: lists)
    assert len(listed(robot["BrainPath"])) == len(listed(robot["Parameters"]["Model"]))
    assert len(listed(worlds)) == len(listed(bags))
    assert all(re.fullmatch(r"brains/gazebo/f1/brain_f1_brains(_[a-z0-9]+)?\.py", p) for p in listed(robot["BrainPath"]))
    labels = [p.split("_")[-1] for p in listed(robot["BrainPath"])]   # how BM's script mode names brains
    assert len(set(labels)) == len(labels)                           # its closing box plot fails on a repeat
    if isinstance(b["Simulation"]["World"], list) and "embedded" in config.name:
        assert len(b["Experiment"]["Timeout"]) == len(b["Simulation"]["World"])   # BM's table lacks our names
    assert "Layout" in b and "Dataset" in b and robot["Type"] == "f1"
    if "dls" not in config.name:   # our brains must resolve; DLS files live in the user's BM models/
        for model in listed(robot["Parameters"]["Model"]):
            spec = spec_for_model(model)
            assert spec.model or spec.type == "explicit"


# ---- DeepLearningStudio-shaped artifacts (no cards), made the way its scripts make them ----

@pytest.fixture(scope="module")
def dls_artifacts(reference_model, tmp_path_factory):
    """DLS's PyTorch and TF files as its scripts write them (test/dls_reference.py); none has a card."""
    out = tmp_path_factory.mktemp("dls")
    write_pytorch_artifacts(reference_model, out, road_frames(8, 3))
    write_tf_artifacts(dls_tf_pilotnet(), out, road_frames(8, 5))
    return out


@pytest.mark.parametrize("name", ["pilot_net_model_best_123.pth", "baseline_eval.pth", "dynamic_quan.pth",
                                  "static_quan.pth", "quan_aware.pth", "local_prune.pth"])
def test_dls_torchscript_artifacts_run_through_the_preset(shim, dls_artifacts, reference_model, frames, name):
    import torch
    path = dls_artifacts / name
    assert not (dls_artifacts / f"{name}.card.yaml").exists()
    brain, camera, motors = construct(shim, str(path), {"GPU": False, "UseOptimized": True}, motors=Motors(99, 99))
    assert brain.card.name == "dls_pytorch_pilotnet"
    quantized = name in ("dynamic_quan.pth", "static_quan.pth", "quan_aware.pth")
    assert brain.brain.backend.name == ("torch_quantized" if quantized else "torchscript")
    module = torch.jit.load(str(path)) if "best" not in name else dls_pilotnet(reference_model).eval()
    for frame in frames[:3]:
        camera.image = SimpleNamespace(data=frame)
        brain.execute()
        with torch.no_grad():
            p = module(torch.from_numpy(torch_input(frame))).numpy()[0]
        assert motors.sent[-1] == pytest.approx((V0 + p[0] * (V1 - V0), W0 + p[1] * (W1 - W0)), abs=2e-3)
    # the node's path (a brain YAML naming only the model) picks the same preset
    assert Brain.from_spec(BrainSpec.from_dict({"name": "d", "model": str(path)})).card.name == "dls_pytorch_pilotnet"


@pytest.mark.parametrize("name", ["pilotnet_model_int_quant.tflite", "pilotnet.h5"])
def test_dls_tf_files_drive_under_bm_as_under_the_node(shim, dls_artifacts, frames, name):
    """Card-less DLS TF files (int-only with uint8 I/O, Keras): fed as DLS trains them, the same (v, w) as the node's
    Brain; how exactly that matches DLS is test_deeplearningstudio's."""
    path = dls_artifacts / name
    brain, camera, motors = construct(shim, str(path), {"GPU": False, "UseOptimized": True}, motors=Motors(99, 99))
    assert brain.card.name == "dls_tf_pilotnet" and brain.card.input_shape == (1, 66, 200, 3)
    node_brain = Brain.from_spec(BrainSpec.from_dict({"name": "n", "model": str(path)}))
    for frame in frames[:3]:
        camera.image = SimpleNamespace(data=frame)
        brain.execute()
        d = node_brain.step(frame)
        assert motors.sent[-1] == pytest.approx((d.v, d.w), abs=1e-5)


def test_dls_preset_choice_by_kind_and_shape(tmp_path):
    trt = tmp_path / "trt_fp16"
    trt.mkdir()
    (trt / "saved_model.pb").write_bytes(b"...TRTEngineOp...")
    assert dls_preset_for(trt).name == "dls_tf_pilotnet"
    assert dls_preset_for("x.pth").input_shape == (1, 3, 66, 200)
    assert dls_preset_for("x.tflite", (1, 50, 100, 3)).input_shape == (1, 100, 50, 3)   # as DLS trains it
    assert dls_preset_for(trt, (None, 200, 66, 3)).input_shape == (1, 66, 200, 3)
    assert dls_preset_for("x.h5", (None, 66, 200, 3)).input.layout == "NHWC"
    assert dls_preset_for("x.onnx") is None and dls_preset_for("x.tflite", (1, 10)) is None


def test_tf_trt_savedmodel_is_routed_to_tf_trt_and_fails_clearly_here(shim, tmp_path):
    trt = tmp_path / "trt_fp16"
    trt.mkdir()
    (trt / "saved_model.pb").write_bytes(b"...TRTEngineOp...")
    brain, _, motors = construct(shim, str(trt), {"GPU": True, "UseOptimized": True})
    assert re.search("BackendUnavailable: tf_trt: .*TensorRT", brain.not_driving)


# ---- Gazebo: the launch files include CustomRobots' world (resolved, not run: no Gazebo here) ----

@pytest.mark.parametrize("circuit,world", [("montreal", "montreal_line"), ("simple_circuit", "simple_circuit")])
def test_gazebo_launch_includes_the_custom_robots_world(tmp_path, circuit, world):
    worlds = tmp_path / "launch"
    worlds.mkdir()
    (worlds / f"{world}.launch").write_text('<launch><node pkg="rosbag" type="play" name="stand_in_world"/></launch>')
    args = ["sim:=gazebo", f"gazebo_launch_dir:={worlds}", "brain:=pilotnet_onnx"]
    def nodes(*extra):   # what roslaunch would start, without starting it
        return subprocess.run(["roslaunch", "--nodes", "f1_brains", f"{circuit}.launch", *extra], env=ros_env(tmp_path),
                              capture_output=True, text=True, timeout=60).stdout.split()
    gazebo = nodes(*args)
    assert "/stand_in_world" in gazebo and "/f1_brain" in gazebo and "/f1_sim" not in gazebo
    (worlds / "variant.launch").write_text('<launch><node pkg="rosbag" type="play" name="variant"/></launch>')
    assert "/variant" in nodes(*args, "world:=variant")
    embedded = nodes()
    assert "/f1_sim" in embedded and "/stand_in_world" not in embedded


# ---- a lap driven exactly as BM's pilot drives (real master, our simulator, real subscriptions) ----

@pytest.mark.slow
def test_bm_pilot_completes_a_lockstep_lap(tmp_path):
    """The explicit brain through BM's module: the shipped PilotNet, trained in the old invented world, hits
    the real world's wall after about 76 m until it is retrained there (issue 14)."""
    result = subprocess.run(["roslaunch", "-p", str(free_port()), str(REPO / "test/ros/bm_lap.launch"),
                             f"out:={tmp_path}", "model:=explicit"],
                            env=ros_env(tmp_path), capture_output=True, text=True, timeout=420)
    output = (result.stdout + result.stderr)[-6000:]
    assert (tmp_path / "bm_pilot.json").is_file(), output
    report = json.loads((tmp_path / "bm_pilot.json").read_text())
    sim = json.loads((tmp_path / "sim_summary.json").read_text())
    print(json.dumps({"bm_pilot": report, "sim_laps": sim["laps"]}, indent=1))
    assert report["end_reason"] == "completed 1 lap(s)" == sim["end_reason"], output
    assert 35 < sim["laps"][0]["lap_time"] < 75
    a = report["attributes"]
    assert a["inference_times"]["type"] == "list" and a["suddenness_distance"]["type"] == "list"
    assert a["inference_times"]["len"] > 700 and a["inference_times"]["item_types"] == ["float"]
    assert a["suddenness_distance"]["len"] == a["inference_times"]["len"] - 1
    assert a["gpu_inference"] == {"type": "bool", "value": False}
    assert a["first_image"] == {"type": "ndarray", "shape": [480, 640, 3], "dtype": "uint8"}
    assert report["faults"] == 0 and report["executes"] >= a["inference_times"]["len"]
    assert 0 < report["bm_metrics"]["mean_inference_time"] < 0.05
    assert report["pose"]["timeStamp"] > 35
