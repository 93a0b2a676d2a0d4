"""`f1-brains evaluate --ray`: a real Ray cluster started by the test (a head and a worker node, one CPU each, token
authentication as Ray 2.59+ wants it), a small matrix run through it and through the local pool, the same tables;
the cluster stopped by its own PIDs (never `ray stop`, which stops every Ray of the machine)."""
import csv
import importlib.util
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import free_port

from f1_brains.cli import main
from f1_brains.util.processes import pids_with

if importlib.util.find_spec("ray") is None:   # not imported here: Ray reads its token settings when first imported
    pytest.skip("ray is not installed", allow_module_level=True)
RAY = Path(sys.executable).parent / "ray"


def cluster_pids(marker: str) -> set[int]:
    """Processes whose command line holds ``marker`` (the cluster's temp dir), and all their descendants."""
    parents: dict[int, int] = {}
    marked = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            parents[int(proc.name)] = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if marker.encode() in (proc / "cmdline").read_bytes():
                marked.add(int(proc.name))
        except (OSError, IndexError, ValueError):
            continue
    found, grew = set(marked), True
    while grew:
        children = {pid for pid, parent in parents.items() if parent in found} - found
        found |= children
        grew = bool(children)
    return found


@pytest.fixture
def ray_cluster(monkeypatch):
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")   # short: Ray's unix sockets live under it
    port = free_port()
    env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16), "RAY_USAGE_STATS_ENABLED": "0"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    common = ["--num-cpus=1", "--node-ip-address=127.0.0.1", "--disable-usage-stats"]
    subprocess.run([RAY, "start", "--head", f"--port={port}", f"--temp-dir={temp}", "--include-dashboard=false",
                    *common], check=True, capture_output=True, timeout=120)
    subprocess.run([RAY, "start", f"--address=127.0.0.1:{port}", *common], check=True, capture_output=True,
                   timeout=120)
    pids = cluster_pids(temp)   # before anything dies: a raylet's children are then re-parented
    try:
        yield f"127.0.0.1:{port}"
    finally:
        pids |= cluster_pids(temp)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.5)
        assert not {p for p in cluster_pids(temp) if Path(f"/proc/{p}/cmdline").read_bytes()}


def table(out: Path) -> list[dict]:
    """results.csv without the columns that are timings or wall clock (they differ run to run)."""
    with open(out / "results.csv") as f:
        return [{k: v for k, v in row.items() if not k.endswith(("_ms", "wall_time_s", "frequency_rt", "real_time_factor"))}
                for row in csv.DictReader(f)]


@pytest.mark.slow
def test_a_matrix_on_a_two_node_ray_cluster_matches_the_local_pool(ray_cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("ROS_HOME", str(tmp_path / "ros"))
    args = ["evaluate", "--brains", "explicit", "--circuits", "simple_circuit", "many_curves"]
    assert main([*args, "--ray", ray_cluster, "--out", str(tmp_path / "ray")]) == 0
    assert main([*args, "--jobs", "2", "--out", str(tmp_path / "local")]) == 0
    assert table(tmp_path / "ray") == table(tmp_path / "local")   # lockstep laps: bit for bit
    for key in ("explicit/simple_circuit/lockstep/r0", "explicit/many_curves/lockstep/r0"):
        names = {p.name for p in (tmp_path / "ray" / key).iterdir()}
        assert {"result.json", "run.json", "frames.csv", "sim_summary.json", "brain_summary.json",
                "launch.log"} <= names
        assert names == {p.name for p in (tmp_path / "local" / key).iterdir()}
        # Ray's worker blocks SIGINT: unless the launch unblocks it, every node ignored Ctrl-C at the run's end
        assert "escalating to SIGTERM" not in (tmp_path / "ray" / key / "launch.log").read_text()


def test_a_cluster_that_is_not_there_is_one_clear_error_before_any_run(tmp_path, capsys):
    rc = main(["evaluate", "--brains", "explicit", "--circuits", "simple_circuit", "--ray",
               f"127.0.0.1:{free_port()}", "--out", str(tmp_path / "out")])
    assert rc == 2 and "no Ray cluster reachable at '127.0.0.1:" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_sigterm_on_a_local_ray_matrix_keeps_what_each_run_had_and_leaves_no_run_behind(tmp_path, monkeypatch):
    """SIGTERM mid-lap: the running tasks stop their launches and bring back what their nodes saved, marked
    interrupted, as the local pool's runs do; the queued one never starts, and OUT keeps its earlier result (a lap
    that hit the wall, rerun only because of --retry-failed); no node is left (a local Ray shut down before the
    tasks had stopped their launches left them orphaned)."""
    from conftest import ros_env
    for key, value in {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16),
                       "RAY_USAGE_STATS_ENABLED": "0"}.items():
        monkeypatch.setenv(key, value)
    out = tmp_path / "out"
    earlier = out / "explicit/montreal/lockstep.noise7.25/r0"
    earlier.mkdir(parents=True)
    (earlier / "result.json").write_text(json.dumps({"status": "finished", "completed": False,
                                                     "end_reason": "hit the wall"}))
    (earlier / "run.json").write_text('{"laps": []}')
    marker = "lockstep.noise7.25"   # in every node's log path: this test's runs and no one else's
    cmd = [str(Path(sys.executable).parent / "f1-brains"), "evaluate", "--brains", "explicit", "--circuits",
           "simple_circuit", "many_curves", "montreal", "--conditions", "noise:7.25", "--ray", "--jobs", "2",
           "--retry-failed", "--out", str(out)]
    evaluate_ = subprocess.Popen(cmd, env=ros_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    def driving() -> list[Path]:   # the runs whose brains have answered a frame, in their tasks' scratch dirs
        return list(Path(tempfile.gettempdir()).glob(f"f1_brains_run_*/explicit/*/{marker}/r0/frames.csv*"))
    deadline = time.monotonic() + 180
    while len(driving()) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(driving()) == 2 and len(pids_with(marker, "brain_node")) == 2
    time.sleep(1.0)   # mid-lap
    evaluate_.send_signal(signal.SIGTERM)
    _, stderr = evaluate_.communicate(timeout=120)
    assert evaluate_.returncode == 130, stderr[-2000:]
    assert "interrupted: 2 run(s) stopped and marked interrupted, 1 not started;" in stderr, stderr[-2000:]
    time.sleep(1.0)
    assert not pids_with(marker)
    for circuit in ("simple_circuit", "many_curves"):
        run = out / f"explicit/{circuit}/{marker}/r0"
        result = json.loads((run / "result.json").read_text())
        assert result["status"] == "interrupted" and not result["completed"], result
        assert json.loads((run / "run.json").read_text())["laps"]      # what the brain had, brought back
        assert {"frames.csv", "sim_summary.json", "brain_summary.json", "launch.log"} <= {p.name for p in run.iterdir()}, \
            (run / "launch.log").read_text(errors="replace")[-4000:]   # how its nodes stopped
    assert json.loads((earlier / "result.json").read_text())["end_reason"] == "hit the wall"
    assert (earlier / "run.json").read_text() == '{"laps": []}' and len(list(earlier.iterdir())) == 2
