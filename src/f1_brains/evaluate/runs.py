"""Closed-loop runs of brains on circuits, headless: each run its own ROS master, K at a time.

A run is `roslaunch f1_brains drive.launch` on its own master port with ROS_HOME and run files in
OUT/<brain>/<circuit>/<mode>/r<repeat>/. Its result (the simulator's and the brain's summaries,
condensed) is saved as result.json there, so an interrupted matrix resumes where it stopped and a
failed run is recorded with its reason without stopping the others. Its "recorded" entry holds the seeds'
columns of the brain node's run.json (run_file.summary_row), the one lap truth; results/aggregate.py turns
the results into tables and plots.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from ..errors import ConfigError
from ..util.files import read_json, write_json_atomic
from ..util.paths import package_root

BASE_PORT = 11700


@dataclass(frozen=True)
class RunSpec:
    brain: str
    circuit: str
    mode: str = "lockstep"
    laps: int = 1
    repeat: int = 0
    timeout: float = 600.0   # sim seconds

    @property
    def key(self) -> str:
        # brains and circuits may be file paths: their stems keep the run inside the output directory
        return f"{Path(self.brain).stem}/{Path(self.circuit).stem}/{self.mode}/r{self.repeat}"

    def wall_limit(self) -> float:
        """Wall seconds before a run is killed: realtime runs take their sim time, lockstep far less."""
        return self.timeout + 180.0 if self.mode == "realtime" else max(300.0, self.timeout)


def condense(spec: RunSpec, sim: dict[str, Any], brain: dict[str, Any]) -> dict[str, Any]:
    """How the run ended (the simulator's word) and what the brain node counted; the lap numbers themselves come
    from run.json only (``recorded``), so evaluate, aggregate and report share one lap truth."""
    timings = brain.get("timings", {})
    return {**spec.__dict__, "end_reason": sim.get("end_reason"), "completed": len(sim.get("laps", [])) >= spec.laps,
            "progress_m": sim.get("progress_m"), "sim_time_s": sim.get("sim_time_s"),
            "wall_time_s": sim.get("wall_time_s"), "renderer_restarts": sim.get("renderer_restarts", 0),
            "frames": brain.get("frames", {}),
            "inference_p50_ms": timings.get("inference", {}).get("p50_ms"),
            "inference_p99_ms": timings.get("inference", {}).get("p99_ms"),
            "backend": brain.get("brain", {}).get("backend")}


def recorded(run_dir: Path) -> dict[str, Any] | None:
    """The seeds' columns of the run's run.json (run_file.summary_row, NaN as None); None without a readable one."""
    from ..results.run_file import load_run, summary_row
    try:
        row = summary_row(load_run(run_dir / "run.json"))
    except (ConfigError, KeyError, TypeError):
        return None
    return {k: None if isinstance(v, float) and v != v else v for k, v in row.items() if k != "method"}


def run_one(spec: RunSpec, out_root: Path, port: int) -> dict[str, Any]:
    out = out_root.resolve() / spec.key
    done = out / "result.json"
    if done.is_file():
        result = read_json(done)
        if "recorded" not in result:   # written before results carried run.json's columns
            result["recorded"] = recorded(out)
            write_json_atomic(done, result)
        return result
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "ROS_HOME": str(out / "ros"), "ROS_MASTER_URI": f"http://localhost:{port}",
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "ROS_PACKAGE_PATH": ":".join(p for p in (str(package_root()), os.environ.get("ROS_PACKAGE_PATH")) if p)}
    cmd = ["roslaunch", "-p", str(port), "f1_brains", "drive.launch", f"circuit:={spec.circuit}",
           f"brain:={spec.brain}", f"mode:={spec.mode}", f"laps:={spec.laps}", f"timeout:={spec.timeout}",
           f"out:={out}"]
    with open(out / "launch.log", "w") as log:
        try:
            subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=spec.wall_limit())
            error = None
        except subprocess.TimeoutExpired:
            error = f"killed after {spec.wall_limit():.0f} s wall"
    sim, brain = out / "sim_summary.json", out / "brain_summary.json"
    if sim.is_file() and brain.is_file():
        result = condense(spec, read_json(sim), read_json(brain))
    else:
        missing = ", ".join(p.name for p in (sim, brain) if not p.is_file())
        fatal = [line.strip() for line in (out / "launch.log").read_text(errors="replace").splitlines()
                 if "[FATAL]" in line]
        why = f": {fatal[-1].split(']: ', 1)[-1]}" if fatal else f" (see {out / 'launch.log'})"
        result = {**spec.__dict__, "completed": False, "end_reason": error or f"run failed: no {missing}{why}"}
    result["recorded"] = recorded(out)
    write_json_atomic(done, result)
    return result


def evaluate(specs: Iterable[RunSpec], out_root: str | Path, jobs: int = 1, progress: bool = True) -> list[dict]:
    """Run every spec (reusing finished ones), ``jobs`` at a time; results in the order given."""
    from tqdm import tqdm
    specs, out_root = list(specs), Path(out_root).resolve()   # nodes run in ROS_HOME: paths must be absolute
    ports = list(range(BASE_PORT, BASE_PORT + jobs))
    free, lock = list(ports), threading.Lock()

    def task(spec: RunSpec) -> dict[str, Any]:
        with lock:
            port = free.pop()
        try:
            return run_one(spec, out_root, port)
        finally:
            with lock:
                free.append(port)

    results: dict[str, dict] = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool, \
            tqdm(total=len(specs), desc="runs", unit="run", disable=not progress, file=sys.stderr) as bar:
        futures = {pool.submit(task, spec): spec for spec in specs}
        for future in as_completed(futures):
            spec = futures[future]
            results[spec.key] = future.result()
            bar.set_postfix_str(f"{spec.key}: {results[spec.key]['end_reason']}", refresh=False)
            bar.update()
    return [results[s.key] for s in specs]

