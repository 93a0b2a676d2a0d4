"""BehaviorMetrics' own Gazebo driver, unmodified, on the embedded simulator: script mode with our shipped config
(behaviormetrics/configs/embedded_single.yml), set up as docs/behaviormetrics.md tells a user, on a machine
without Gazebo. BM's source and packages come from behaviormetrics_checkout (skipped where they cannot be had)."""
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import rosbag
from behaviormetrics_checkout import Unavailable, python_deps, source
from conftest import REAL_WORLDS, REPO, free_port, ros_env

pytestmark = pytest.mark.slow
LINK_LABELS = ("", "_explicit", "_pilotnet", "_onnx", "_tflite", "_tfliteint8", "_torchint8")


@pytest.fixture(scope="module")
def bm_install(tmp_path_factory) -> tuple[Path, Path]:
    """A copy of BM's behavior_metrics with the docs' two links, and BM's Python packages."""
    try:
        bm_source, deps = source(), python_deps()
    except Unavailable as e:
        pytest.skip(str(e))
    bm = tmp_path_factory.mktemp("bm") / "behavior_metrics"
    shutil.copytree(bm_source, bm, symlinks=True)
    for label in LINK_LABELS:   # as docs/behaviormetrics.md: one link per brain a script compares
        (bm / f"brains/gazebo/f1/brain_f1_brains{label}.py").symlink_to(REPO / "brains/brain_f1_brains.py")
    (bm / "f1_brains").symlink_to(REPO / "behaviormetrics")
    bag = bm / "perfect_bags/lap-simple-circuit.bag"
    if not bag.is_file():   # BM's bags are git-lfs-sized: a mirror may lack them; ../shared has the same files
        if not (REAL_WORLDS / "bm_perfect_bags/lap-simple-circuit.bag").is_file():
            pytest.skip("BehaviorMetrics' perfect-lap bag lap-simple-circuit.bag is not available")
        bag.parent.mkdir(exist_ok=True)
        shutil.copy(REAL_WORLDS / "bm_perfect_bags/lap-simple-circuit.bag", bag)
    return bm, deps


def bm_env(tmp_path: Path, deps: Path, marker: str) -> dict[str, str]:
    env = ros_env(tmp_path)
    env["ROS_MASTER_URI"] = f"http://localhost:{free_port()}"
    # the docs' PATH (our `gz stats -p`); the test's killall keeps BM's `killall -9 rosmaster ...` to its own processes
    env["PATH"] = f"{REPO / 'test/ros/bm_shims'}:{REPO / 'behaviormetrics/bin'}:{env['PATH']}"
    env["PYTHONPATH"] = ":".join(p for p in (str(deps), env.get("PYTHONPATH")) if p)
    env.update(PYNPUT_BACKEND="dummy", MPLBACKEND="Agg", PYTHONUNBUFFERED="1", F1B_BM_RUN=marker)
    return env


def kill_marked(marker: str) -> None:
    """Whatever BM left running (it ends its ROS processes by name, and not at all when it crashes)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if f"F1B_BM_RUN={marker}".encode() in (proc / "environ").read_bytes().split(b"\0"):
                os.kill(int(proc.name), 9)
        except (OSError, ProcessLookupError):
            pass


def bm_results(bm: Path) -> dict[str, tuple[dict, dict]]:
    """model -> (BM's metrics, topic counts) from each bag BM wrote (its /metadata names the model)."""
    results = {}
    for path in sorted(bm.glob("*.bag")):
        with rosbag.Bag(str(path)) as bag:
            texts = {topic: json.loads(msg.data) for topic, msg, _ in
                     bag.read_messages(topics=["/metadata", "/experiment_metrics"])}
            counts = {t: i.message_count for t, i in bag.get_type_and_topic_info().topics.items()}
        results[texts["/metadata"]["experiment_model"]] = (texts["/experiment_metrics"], counts)
    return results


@pytest.mark.parametrize("config,model,backend", [
    ("embedded_simple_circuit.yml", "explicit", "explicit"),
    ("embedded_pilotnet.yml", "pilotnet_onnx", "onnxruntime"),   # the shipped network, trained under command delay
])
def test_behaviormetrics_script_mode_laps_the_embedded_world_and_writes_its_metrics(bm_install, tmp_path, config,
                                                                                     model, backend):
    """A shipped config, verbatim: the brain served by our module, 60-80 s of simple_circuit, BM's pilot loop (a frame
    polled every 50 ms, commands republished every 80 ms: up to ~135 ms from frame to wheels)."""
    bm, deps = bm_install
    for old in (*bm.glob("*.json"), *bm.glob("*.bag")):   # the module's BM copy is shared: one run's files at a time
        old.unlink()
    marker = uuid.uuid4().hex
    try:
        result = subprocess.run([sys.executable, "driver_gazebo.py", "-c", f"f1_brains/configs/{config}", "-s"], cwd=bm,
                                env=bm_env(tmp_path, deps, marker), capture_output=True, text=True, timeout=300)
    finally:
        kill_marked(marker)
    log = result.stdout + result.stderr
    assert result.returncode == 0 and "DONE! Bye, bye" in log, log[-6000:]
    assert len(list(bm.glob("*.json"))) == 1, log[-6000:]
    results = bm_results(bm)
    assert set(results) == {model}, log[-6000:]
    metrics, topics = results[model]
    # a lap, by BM's own metric code (its perfect lap's checkpoints matched within 5 m), and BM's timings
    assert metrics["percentage_completed"] >= 100 and metrics["lap_seconds"] > 0, metrics
    assert metrics["experiment_total_simulated_time"] >= 60 and metrics["completed_distance"] > 429, metrics
    assert metrics["mean_inference_time"] > 0 and metrics["gpu_inference"] is False, metrics
    assert metrics["real_time_factor"] > 0, metrics      # BM read it from our `gz stats -p`
    assert topics["/F1ROS/odom"] > 500 and topics["/clock"] > 500, topics
    # BM's loader: built twice without a model, then reloaded with it; nothing refused
    assert log.count("no model yet") == 2 and f"brain {model} on {backend} (cpu)" in log
    assert "cannot drive" not in log and "safe stop" not in log
