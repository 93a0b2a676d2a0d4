"""What the embedded simulator does to stand in for a Gazebo world under BehaviorMetrics: the world file's
real-time factor, a world that outlives its run, Gazebo's two resets, `gz stats -p` from /clock."""
import subprocess
import sys

import pytest
from conftest import REPO

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
