"""What the embedded simulator does to stand in for a Gazebo world under BehaviorMetrics: the world file's
real-time factor, a world that outlives its run, Gazebo's two resets, `gz stats -p` from /clock."""
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO, free_port, ros_env

from f1_brains.errors import ConfigError
from f1_brains.ros.gz_stats import ClockStats
from f1_brains.sim.simulation import RunLimits, Simulation
from f1_brains.worlds import circuits
from f1_brains.worlds.gazebo_world import real_time_factor

WORLD = """<sdf version="1.6"><world name="w">{physics}</world></sdf>"""


@pytest.mark.parametrize("physics,factor", [
    ("", 1.0),                                                                           # Gazebo's defaults
    ("<physics><real_time_update_rate>500</real_time_update_rate></physics>", 0.5),
    ("<physics><max_step_size>0.002</max_step_size><real_time_update_rate>1000</real_time_update_rate></physics>", 2.0),
    ("<physics><real_time_update_rate>1000</real_time_update_rate></physics>"
     "<physics><real_time_update_rate>0</real_time_update_rate></physics>", 0.0),        # BM appends its own last
])
def test_real_time_factor_of_a_world_file(tmp_path, physics, factor):
    path = tmp_path / "w.world"
    path.write_text(WORLD.format(physics=physics))
    assert real_time_factor(path) == pytest.approx(factor)


@pytest.mark.parametrize("text,match", [
    ("not xml", "cannot be read as SDF"),
    ("<sdf/>", "no <world>"),
    (WORLD.format(physics="<physics><real_time_update_rate>fast</real_time_update_rate></physics>"), "not a number"),
    (WORLD.format(physics="<physics><real_time_update_rate>-5</real_time_update_rate></physics>"), "negative"),
])
def test_bad_world_files_are_refused_clearly(tmp_path, text, match):
    path = tmp_path / "w.world"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        real_time_factor(path)


def test_shipped_behaviormetrics_worlds_run_in_real_time():
    worlds = sorted((REPO / "behaviormetrics/worlds").glob("*.world"))
    assert len(worlds) == 5 and all(real_time_factor(w) == pytest.approx(1.0) for w in worlds)
    for launch in (REPO / "behaviormetrics/launch").glob("*.launch"):
        assert (REPO / "behaviormetrics/worlds" / f"{launch.stem}.world").is_file()   # BM reads ../worlds/<name>


def test_a_world_without_run_end_and_gazebos_two_resets():
    sim = Simulation(circuits.load("simple_circuit"), RunLimits(laps=0, timeout=0, stuck_time=0))
    sim.advance(30.0, 0.0, 0.0)                  # standing still for 30 s: neither stuck nor timed out
    assert not sim.ended and sim.time == pytest.approx(30.0)
    sim.advance(5.0, 5.0, 2.0)                   # into the wall: the run ends, the world goes on
    assert sim.ended and "hit the wall" in sim.end_reason
    where, at = (sim.car.x, sim.car.y), sim.time
    sim.hold(2.0)
    assert (sim.car.x, sim.car.y) == where and sim.time == pytest.approx(at + 2.0)
    sim.reset(keep_time=True)                    # /gazebo/reset_world: back to the start, the clock goes on
    assert not sim.ended and sim.time == pytest.approx(at + 2.0) and sim.summary()["sim_time_s"] == 0
    sim.advance(1.0, 5.0, 0.0)
    assert sim.summary()["sim_time_s"] == pytest.approx(1.0)
    sim.reset()                                  # /gazebo/reset_simulation: the clock restarts too
    assert sim.time == 0 and sim.progress == 0


def test_gz_stats_line_from_clock_samples():
    stats = ClockStats()
    assert stats.line(0.0) is None               # no world yet
    for i in range(11):
        stats.add(100.0 + 0.1 * i, 5.0 + 0.05 * i)   # half real time
    factor, sim, _, paused = stats.line(101.05).split(", ")
    assert float(factor) == pytest.approx(0.5) and float(sim) == pytest.approx(5.5) and paused == "F"
    factor, _, _, paused = stats.line(103.0).split(", ")   # no /clock for 2 s: paused
    assert float(factor) == 0 and paused == "T"


def test_gz_shim_refuses_anything_but_stats_p():
    result = subprocess.run([sys.executable, str(REPO / "behaviormetrics/bin/gz"), "model", "-l"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "only provides `gz stats -p`" in result.stderr


@pytest.mark.slow
def test_a_second_launch_of_the_world_takes_over_and_keeps_running(tmp_path):
    """BehaviorMetrics' script mode launches the world again for every run while the last launch still runs: the new
    simulator replaces the old by name, the old one ends without calling the master again, and the new one keeps
    the clock going (it used to be shut down in turn by the old one's last log line, and BM waited forever)."""
    env = {**ros_env(tmp_path), "ROS_MASTER_URI": f"http://localhost:{free_port()}"}
    port = env["ROS_MASTER_URI"].rsplit(":", 1)[1]
    launch = ["roslaunch", "f1_brains", "world.launch", "circuit:=simple_circuit"]
    def clock_ticks(within: float = 60.0) -> bool:   # a /clock message arrives (the master may still be starting)
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                if subprocess.run(["rostopic", "echo", "-n", "1", "/clock"], env=env, capture_output=True,
                                  timeout=10).returncode == 0:
                    return True
            except subprocess.TimeoutExpired:
                pass
            time.sleep(0.5)
        return False
    first = subprocess.Popen([*launch[:1], "-p", port, *launch[1:]], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    second = None
    try:
        assert clock_ticks()
        second = subprocess.Popen(launch, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(8)   # the old node has ended by now, and before the fix had stopped the new one
        assert second.poll() is None and clock_ticks(within=10)
        ping = subprocess.run(["rosnode", "ping", "-c", "1", "/f1_sim"], env=env, capture_output=True, text=True,
                              timeout=30)
        assert ping.returncode == 0, ping.stdout + ping.stderr
    finally:
        for p in (second, first):
            if p is not None:
                p.send_signal(signal.SIGINT)
        outputs = [p.communicate(timeout=30)[0] for p in (first, second) if p is not None]
    assert "f1_sim: run ended: replaced by a new node of the same name" in outputs[0], outputs[0][-3000:]
    assert "replaced" not in outputs[1], outputs[1][-3000:]
