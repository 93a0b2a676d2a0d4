"""ROS end-to-end: the nodes under rostest with a real master, and the launch files users run."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import free_port, ros_env

from f1_brains.ros.recorder import JOURNAL
from f1_brains.util.processes import pids_with


@pytest.mark.slow
@pytest.mark.parametrize("name,checks", [
    ("brain_node", 7),   # brain node: rate, bad encoding, wrong size, silence, a repeat, NaN output, shutdown
    ("sim_lap", 1),      # the explicit brain completes a lockstep lap of simple_circuit on the simulator
    ("sim_inputs", 7),   # simulator: commands, linear.y, NaN/huge commands, reset/pause, silent brain in lockstep,
                         # the car stopping when commands stop, a second cmd_vel publisher warned about
])
def test_rostest(rostest, name, checks):
    counts, output = rostest(name)
    assert counts == {"tests": checks, "failures": 0, "errors": 0}, output


@pytest.mark.slow
@pytest.mark.parametrize("lead_ms", [2.0, 0.0])
def test_camera_replay_launch_prints_and_writes_the_summary(tmp_path, lead_ms):
    summary_file = tmp_path / "summary.json"
    result = subprocess.run(["roslaunch", "f1_brains", "camera_replay.launch", "brain:=pilotnet_tflite",
                             "frames:=40", f"summary_file:={summary_file}", f"warm_up_lead_ms:={lead_ms}",
                             "-p", str(free_port())],
                            env=ros_env(tmp_path), capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert "brain pilotnet_tflite: backend tflite on cpu" in output, output[-4000:]
    summary = json.loads(summary_file.read_text())
    frames = summary["frames"]
    assert frames["processed"] >= 38 and frames["faults"] == 0, frames
    assert summary["timings"]["inference"]["n"] == frames["processed"]
    assert summary["brain"]["backend"] == "tflite"
    # A 20 Hz camera: once 3 intervals are seen, the last frame is rehearsed before the next one (none when off).
    # Not before every one: a frame earlier than the shortest recent interval comes before its warm-up (a loaded machine).
    if lead_ms:
        assert frames["processed"] // 4 <= frames["warm_ups"] <= frames["processed"], frames
    else:
        assert frames["warm_ups"] == 0, frames


@pytest.mark.slow
def test_a_camera_faster_than_its_brain_has_the_frames_it_outran_counted_as_skipped(tmp_path):
    """The brain answers in rospy's receiving thread; of the frames that come meanwhile rospy hands over only the
    newest. Those it drops are counted from the gaps in header.seq, so every frame sent is accounted for."""
    summary_file, sent = tmp_path / "summary.json", 300
    result = subprocess.run(["roslaunch", "f1_brains", "camera_replay.launch", "brain:=pilotnet_keras",
                             f"frames:={sent}", "rate:=1000", f"summary_file:={summary_file}", "-p", str(free_port())],
                            env=ros_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert summary_file.is_file(), (result.stdout + result.stderr)[-4000:]
    frames = json.loads(summary_file.read_text())["frames"]
    # Keras at 1 thread takes milliseconds a frame: a 1 kHz camera outruns it.
    assert frames["skipped"] > 0 and frames["faults"] == 0 and frames["repeats"] == 0, frames
    assert frames["processed"] + frames["skipped"] == frames["received"], frames
    # The player stays up a second after its last frame, so the brain gets it and counts the gap before it; frames
    # dropped before the first one it gets have no seq to count from.
    assert sent - 5 <= frames["received"] <= sent, frames


@pytest.mark.slow
def test_headless_circuit_launch_ends_by_itself_and_writes_run_files(tmp_path):
    out = tmp_path / "run"
    result = subprocess.run(["roslaunch", "f1_brains", "drive.launch", "circuit:=nurburgring", "brain:=explicit",
                             f"out:={out}", "bag:=true", "rate:=25", "-p", str(free_port())], env=ros_env(tmp_path),
                            capture_output=True,
                            text=True, timeout=300)
    output = result.stdout + result.stderr
    sim = json.loads((out / "sim_summary.json").read_text())
    brain = json.loads((out / "brain_summary.json").read_text())
    assert sim["end_reason"] == "completed 1 lap(s)" and sim["mode"] == "lockstep", output[-4000:]
    assert 50 < sim["laps"][0]["lap_time"] < 70
    assert brain["frames"]["processed"] == sim["frames"] and brain["frames"]["faults"] == 0
    e2e = brain["timings"]["end-to-end (stamp->cmd)"]   # sim time stands still in lockstep: 0, never negative
    assert e2e["p50_ms"] == 0 and e2e["mean_ms"] >= 0   # the frame stamped at t = 0 has no stamp to measure from
    assert e2e["n"] + brain["frames"]["clock_behind"] == sim["frames"] - 1
    assert "| 1 |" in output    # the lap table was printed
    import rosbag
    with rosbag.Bag(str(out / "run.bag")) as bag:   # bag:=true records what BehaviorMetrics records
        topics = bag.get_type_and_topic_info().topics
    assert topics["/F1ROS/odom"].message_count > 1000 and "/F1ROS/cmd_vel" in topics and "/clock" in topics
    # The brain node's lap recorder agrees with the simulator, and its run makes a report with plots.
    run = json.loads((out / "run.json").read_text())
    assert run["laps_completed"] == 1 and run["metadata"]["circuit"] == "nurburgring"
    assert run["laps"][0]["target_brain_iterations_simulated_time"] == 25   # the camera's rate, passed on
    assert run["laps"][0]["brain_iterations_frequency_simulated_time"] == pytest.approx(25, abs=0.5)
    assert run["laps"][0]["lap_seconds"] == pytest.approx(sim["laps"][0]["lap_time"], abs=0.06)
    assert run["laps"][0]["position_deviation_mae_m"] == pytest.approx(sim["laps"][0]["mean_abs_offset"], abs=0.01)
    from f1_brains.results.report import report
    table, plots = report([str(out / "run.json")])
    assert "Yes (" in table and len(plots) == 3 and all(p.stat().st_size > 10_000 for p in plots)


@pytest.mark.slow
def test_ctrl_c_mid_lap_keeps_the_completed_laps(tmp_path):
    out = tmp_path / "run"
    launch = subprocess.Popen(["roslaunch", "f1_brains", "simple_circuit.launch", "laps:=3", f"out:={out}",
                               "-p", str(free_port())], env=ros_env(tmp_path), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:   # wait for the first completed lap to be on disk
            run_file = out / "run.json"
            if run_file.is_file() and json.loads(run_file.read_text())["laps_completed"] >= 1:
                break
            time.sleep(0.2)
        time.sleep(1.0)                       # well into the second lap
        launch.send_signal(signal.SIGINT)     # Ctrl-C
        launch.wait(timeout=60)
    finally:
        if launch.poll() is None:
            launch.kill()
    run = json.loads((out / "run.json").read_text())
    assert run["laps_completed"] == 1
    first, second = run["laps"][:2]
    assert first["complete"] and 35 < first["lap_seconds"] < 60
    assert not second["complete"] and second["invalid_reason"].startswith("run ended mid-lap")
    assert second["frames_processed"] > 0
    assert (out / "frames.csv").read_text().count("\n") > first["frames_processed"]


def drive_world(world, tmp_path) -> tuple[dict, str]:
    """One headless explicit-brain lap of a .world through drive.launch: (sim summary, launch output)."""
    out = tmp_path / "run"
    result = subprocess.run(["roslaunch", "f1_brains", "drive.launch", f"circuit:={world}", "brain:=explicit",
                             f"out:={out}", "-p", str(free_port())], env=ros_env(tmp_path), capture_output=True,
                            text=True, timeout=400)
    output = result.stdout + result.stderr
    crash = output[output.find("Fatal Python error"):][:3000] if "Fatal Python error" in output else ""
    assert (out / "sim_summary.json").is_file(), crash + output[-4000:]
    return json.loads((out / "sim_summary.json").read_text()), output


@pytest.mark.slow
def test_a_customrobots_world_file_laps_headless(tmp_path):
    """circuit:= a .world (here a tiny one the test writes, so a fresh machine runs it too): measured at load,
    drawn from its meshes (pyrender), lapped by the explicit brain, lap statistics against its red line."""
    from test_worlds import RADIUS, tiny_world
    sim, output = drive_world(tiny_world(tmp_path / "checkout"), tmp_path)
    assert sim["end_reason"] == "completed 1 lap(s)" and sim["circuit"] == "ring", output[-4000:]
    assert sim["circuit_length_m"] == pytest.approx(2 * 3.14159 * RADIUS, rel=0.01)
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["laps_completed"] == 1 and run["laps"][0]["position_deviation_mae_m"] < 0.1


def wait_for_journal(out: Path, rows: int, timeout: float = 60.0) -> None:
    """Until the brain has journaled ``rows`` frames into out/frames.csv.partial: the lap is under way (a fixed
    sleep was too short for start-up on a slower CPU)."""
    journal, deadline = out / JOURNAL, time.monotonic() + timeout
    while (not journal.is_file() or journal.read_text().count("\n") < rows) and time.monotonic() < deadline:
        time.sleep(0.2)


def wait_for_pid(*parts: str, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while not (pids := pids_with(*parts)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(pids) == 1, f"{len(pids)} processes with {parts}"
    return pids[0]


@pytest.mark.slow
def test_a_renderer_crash_mid_lap_costs_a_restart_not_the_run(tmp_path):
    """SIGSEGV in the real-mesh renderer (as Mesa's llvmpipe once did in CI): the simulator restarts it, the lap
    completes, and the summary and log say it happened."""
    from test_worlds import tiny_world
    world, out = tiny_world(tmp_path / "checkout"), tmp_path / "run"
    launch = subprocess.Popen(["roslaunch", "f1_brains", "drive.launch", f"circuit:={world}", "brain:=explicit",
                               "speedup:=1", f"out:={out}", "-p", str(free_port())], env=ros_env(tmp_path),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        pid = wait_for_pid("f1_brains.sim.renderer_process", str(world))
        wait_for_journal(out, 20)   # mid-lap, not while it starts (a renderer that cannot start ends the run)
        os.kill(pid, signal.SIGSEGV)
        output, _ = launch.communicate(timeout=180)
    finally:
        launch.kill()
    sim = json.loads((out / "sim_summary.json").read_text())
    assert sim["end_reason"] == "completed 1 lap(s)" and sim["renderer_restarts"] == 1, output[-4000:]
    assert "mesh renderer killed by SIGSEGV; restarting it (1 of 3)" in output
    assert "renderer restarted 1 time(s)" in output
    assert json.loads((out / "run.json").read_text())["laps_completed"] == 1


@pytest.mark.slow
def test_a_real_customrobots_world_laps_headless_on_its_meshes(real_worlds, tmp_path):
    sim, output = drive_world(real_worlds / "customrobots_f1/f1/worlds/nurburgring_line.world", tmp_path)
    assert sim["end_reason"] == "completed 1 lap(s)" and sim["renderer_restarts"] == 0, output[-4000:]
    assert 50 < sim["laps"][0]["lap_time"] < 70 and sim["laps"][0]["mean_abs_offset"] < 0.1


def launch_drive(tmp_path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(["roslaunch", "f1_brains", "drive.launch", f"out:={tmp_path / 'run'}", *args, "-p",
                             str(free_port())], env=ros_env(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def ended(launch: subprocess.Popen, tmp_path, timeout: float = 60.0) -> tuple[dict, str]:
    """(the simulator's summary, the launch output) once the launch has ended."""
    try:
        output, _ = launch.communicate(timeout=timeout)
    finally:
        launch.kill()
    summary = tmp_path / "run" / "sim_summary.json"
    assert summary.is_file(), f"the launch ended (rc {launch.returncode}) without {summary}:\n{output[-4000:]}"
    return json.loads(summary.read_text()), output


@pytest.mark.slow
def test_a_brain_that_cannot_start_ends_the_run_at_once_with_its_reason(tmp_path):
    """A garbage reference bag: the brain node refuses it; the simulator reads why and ends the run (it used to wait
    120 s for a camera subscriber, then 20 s of brain silence)."""
    garbage = tmp_path / "garbage.bag"
    garbage.write_bytes(bytes(range(256)) * 20)
    started = time.monotonic()
    sim, output = ended(launch_drive(tmp_path, "brain:=explicit", f"reference_bag:={garbage}"), tmp_path)
    assert sim["end_reason"].startswith(f"the brain node /f1_brain could not start: perfect-lap bag {garbage} is "
                                        "not a readable ROS bag"), output[-3000:]
    assert time.monotonic() - started < 30 and "Traceback" not in output


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["lockstep", "realtime"])
def test_a_brain_killed_mid_run_ends_the_run_at_once_saying_so(tmp_path, mode):
    launch = launch_drive(tmp_path, "brain:=explicit", f"mode:={mode}", "speedup:=1")
    pid = wait_for_pid("__name:=f1_brain", str(tmp_path))
    wait_for_journal(tmp_path / "run", 20)
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    sim, output = ended(launch, tmp_path)
    assert sim["end_reason"] in ("the brain node /f1_brain is gone (killed; its log says why)",
                                 "the brain is gone: nothing subscribes to /F1ROS/cameraL/image_raw any more"), \
        output[-3000:]
    assert time.monotonic() - killed < 15 and 0 < sim["sim_time_s"] < 20
    frames = (tmp_path / "run" / "frames.csv.partial").read_text().splitlines()   # what the killed brain recorded
    assert len(frames) > 10 and frames[0].startswith("lap,t_sim")


@pytest.mark.slow
def test_a_master_killed_mid_run_is_named_as_the_reason(tmp_path):
    launch = launch_drive(tmp_path, "brain:=explicit", "speedup:=1")
    pid = wait_for_pid("rosmaster", str(tmp_path))
    wait_for_pid("__name:=f1_brain", str(tmp_path))
    wait_for_journal(tmp_path / "run", 20)
    os.kill(pid, signal.SIGKILL)
    sim, output = ended(launch, tmp_path)
    assert sim["end_reason"] == "the ROS master is gone", output[-3000:]
    assert json.loads((tmp_path / "run" / "run.json").read_text())["laps"]   # the brain's record is kept too
