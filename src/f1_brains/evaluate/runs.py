"""Closed-loop runs of brains on circuits, headless: each run its own ROS master on a free port.

A run is `roslaunch f1_brains drive.launch` with ROS_HOME and run files in OUT/<brain>/<circuit>/<mode>/r<repeat>/
(v<repeat>/ when the world's look varies by repeat).
Its result (the simulator's and the brain's summaries, condensed) is saved as result.json there, with a status:
- finished: the simulator ended the run by one of its rules and both nodes wrote their summaries (laps completed
  or not). Reused by the next evaluate over the same OUT while its brain is unchanged (evaluate/fingerprint.py:
  spec, model and card; a result from before fingerprints while none of those files changed after its run ended);
  ``retry_failed`` reruns those that did not complete.
- failed: a summary is missing (a node that never started) or the run hit its wall limit. Run again next time.
- interrupted: Ctrl-C (or a cancelled task) stopped it. Run again next time.
Its "recorded" entry holds the seeds' columns of the brain node's run.json (run_file.summary_row), the one lap
truth; results/aggregate.py turns the results into tables and plots. The runs go through a local thread pool
(``jobs`` at a time) or a Ray cluster (evaluate/ray_engine.py); both write the same tree.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from ..errors import ConfigError, F1BrainsError
from ..util.files import read_json, write_json_atomic
from ..util.paths import package_root
from ..util.processes import pids_with
from .fingerprint import BrainVersion, brain_fingerprint, brain_version


class Interrupted(F1BrainsError):
    """Ctrl-C stopped the matrix: what finished is saved, what ran is marked interrupted (run again next time)."""


def free_port() -> int:
    """A TCP port nobody listens on now, for a run's own ROS master."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class RunSpec:
    brain: str
    circuit: str
    mode: str = "lockstep"
    laps: int = 1
    repeat: int = 0
    timeout: float = 600.0   # sim seconds
    condition: str = "none"   # sim/conditions.py; the repeat seeds it
    varied: bool = False      # the world's look varies by repeat (appearance seed = repeat), so lockstep repeats differ

    @property
    def key(self) -> str:
        # brains and circuits may be file paths: their stems keep the run inside the output directory
        mode = self.mode if self.condition == "none" else f"{self.mode}.{self.condition.replace(':', '')}"
        return f"{Path(self.brain).stem}/{Path(self.circuit).stem}/{mode}/{'v' if self.varied else 'r'}{self.repeat}"

    @property
    def appearance_seed(self) -> int:
        return self.repeat if self.varied else -1

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


def status_of(result: dict[str, Any]) -> str:
    """finished, failed or interrupted (results written before statuses existed: by their summaries)."""
    return result.get("status") or ("finished" if "frames" in result else "failed")


def reusable(result: dict[str, Any], retry_failed: bool = False) -> bool:
    """The rule for a cached result: a finished run is kept (with ``retry_failed``, only one that completed)."""
    return status_of(result) == "finished" and (result["completed"] or not retry_failed)


def cached(spec: RunSpec, out_root: Path, retry_failed: bool = False,
           version: BrainVersion | None = None) -> dict[str, Any] | None:
    """The run's saved result if it may stand for this run: reusable, and made by this ``version`` of its brain
    (None: not checked)."""
    done = out_root / spec.key / "result.json"
    if not done.is_file():
        return None
    result = read_json(done)
    if not reusable(result, retry_failed):
        return None
    if version is not None and not version.made(result, done.parent):
        return None
    if "recorded" not in result:   # written before results carried run.json's columns
        result["recorded"] = recorded(out_root / spec.key)
        write_json_atomic(done, result)
    return result


def outdated(spec: RunSpec, out_root: Path, version: BrainVersion) -> bool:
    """A finished result of this run is saved, made by another version of its brain (model, card or spec)."""
    done = out_root / spec.key / "result.json"
    if not done.is_file():
        return False
    result = read_json(done)
    return status_of(result) == "finished" and not version.made(result, done.parent)


def run_one(spec: RunSpec, out_root: Path, port: int | None = None,
            stop: threading.Event | None = None) -> dict[str, Any]:
    """Run ``spec`` into OUT_ROOT/<key>/ (cleared first) with its master on ``port`` (default: a free one) and save
    its result.json. ``stop`` set meanwhile: the launch gets SIGINT (its nodes save what they have) and the result
    is marked interrupted."""
    port = port or free_port()
    fingerprint = brain_fingerprint(spec.brain)   # before the run: what it was made with
    out = out_root.resolve() / spec.key
    shutil.rmtree(out, ignore_errors=True)   # nothing stale from an earlier attempt
    out.mkdir(parents=True)
    env = {**os.environ, "ROS_HOME": str(out / "ros"), "ROS_MASTER_URI": f"http://localhost:{port}",
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "ROS_PACKAGE_PATH": ":".join(p for p in (str(package_root()), os.environ.get("ROS_PACKAGE_PATH")) if p)}
    cmd = ["roslaunch", "-p", str(port), "f1_brains", "drive.launch", f"circuit:={spec.circuit}",
           f"brain:={spec.brain}", f"mode:={spec.mode}", f"laps:={spec.laps}", f"timeout:={spec.timeout}",
           f"condition:={spec.condition}", f"condition_seed:={spec.repeat}",
           f"appearance_seed:={spec.appearance_seed}",
           f"out:={out}"]
    error, interrupted = None, False
    with open(out / "launch.log", "w") as log:
        launch = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_signals_as_usual)
        try:
            launch.wait(timeout=spec.wall_limit()) if stop is None else _wait_or_stop(launch, spec, stop)
        except subprocess.TimeoutExpired:
            error = f"killed after {spec.wall_limit():.0f} s wall"
        except BaseException:   # KeyboardInterrupt (a cancelled Ray task): stop the launch, then go
            _stop(launch, f"{out}/")
            raise
        finally:
            if launch.poll() is None:
                _stop(launch, f"{out}/")
        interrupted = stop is not None and stop.is_set()
    sim, brain = out / "sim_summary.json", out / "brain_summary.json"
    if sim.is_file() and brain.is_file():
        result = {**condense(spec, read_json(sim), read_json(brain)), "status": "finished"}
    else:
        missing = ", ".join(p.name for p in (sim, brain) if not p.is_file())
        fatal = [line.strip() for line in (out / "launch.log").read_text(errors="replace").splitlines()
                 if "[FATAL]" in line]
        why = f": {fatal[-1].split(']: ', 1)[-1]}" if fatal else f" (see {out / 'launch.log'})"
        result = {**spec.__dict__, "completed": False, "status": "failed",
                  "end_reason": error or f"run failed: no {missing}{why}"}
    if interrupted:
        result.update(status="interrupted", completed=False, end_reason=f"interrupted ({result['end_reason']})")
    result["recorded"] = recorded(out)
    result["brain_fingerprint"] = fingerprint
    write_json_atomic(out / "result.json", result)
    return result


def _signals_as_usual() -> None:
    """In the child before exec: SIGINT deliverable. A Ray worker's thread blocks it, children inherit the mask, and
    roslaunch's nodes then ignore Ctrl-C: each run's shutdown waited 15 s per node for the SIGTERM escalation."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


def _wait_or_stop(launch: subprocess.Popen, spec: RunSpec, stop: threading.Event) -> None:
    """Wait for the launch; raise TimeoutExpired at its wall limit; return early once ``stop`` is set."""
    deadline = spec.wall_limit()
    waited = 0.0
    while launch.poll() is None:
        if stop.wait(0.5):
            return
        waited += 0.5
        if waited >= deadline:
            raise subprocess.TimeoutExpired(launch.args, deadline)


def _stop(launch: subprocess.Popen, marker: str) -> None:
    """SIGINT, as Ctrl-C does (roslaunch stops its nodes, which write their files); after 30 s roslaunch is killed
    and so is every process of the run it left (each node runs in a session of its own)."""
    if launch.poll() is None:
        launch.send_signal(signal.SIGINT)
        try:
            launch.wait(timeout=30)
        except subprocess.TimeoutExpired:
            launch.kill()
            launch.wait()
            stop_processes_with(marker)


def stop_processes_with(marker: str, grace: float = 5.0) -> int:
    """SIGTERM (SIGKILL after ``grace`` s) to every process of this user whose command line holds ``marker`` (a
    run's directory: its nodes' log paths hold it); how many there were."""
    found = pids_with(marker)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids_with(marker):
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + grace
        while pids_with(marker) and time.monotonic() < deadline:
            time.sleep(0.1)
    return len(found)


def evaluate(specs: Iterable[RunSpec], out_root: str | Path, jobs: int = 1, progress: bool = True,
             retry_failed: bool = False, engine: Any = None) -> list[dict]:
    """Run every spec (reusing cached ones, see ``reusable``) on a local pool of ``jobs``, or on ``engine`` (a
    ray_engine.RayEngine: ``run(specs, out_root, finished)``); results in the order given. Ctrl-C raises
    Interrupted once the running runs are stopped and marked."""
    from tqdm import tqdm
    specs, out_root = list(specs), Path(out_root).resolve()   # nodes run in ROS_HOME: paths must be absolute
    versions = {brain: brain_version(brain) for brain in {s.brain for s in specs}}
    results = {s.key: r for s in specs if (r := cached(s, out_root, retry_failed, versions[s.brain])) is not None}
    todo = [s for s in specs if s.key not in results]
    changed = Counter(s.brain for s in todo if outdated(s, out_root, versions[s.brain]))
    for brain, n in sorted(changed.items()):
        print(f"{brain}: its model, card or spec changed since {n} of its saved run(s): they run again",
              file=sys.stderr)
    with tqdm(total=len(specs), initial=len(results), desc="runs", unit="run", disable=not progress,
              file=sys.stderr) as bar:
        def finished(spec: RunSpec, result: dict[str, Any]) -> None:
            results[spec.key] = result
            bar.set_postfix_str(f"{spec.key}: {result['end_reason']}", refresh=False)
            bar.update()
        if engine is not None:
            engine.run(todo, out_root, finished)
        else:
            _run_local(todo, out_root, jobs, finished)
    return [results[s.key] for s in specs]


def _run_local(specs: list[RunSpec], out_root: Path, jobs: int,
               finished: Callable[[RunSpec, dict[str, Any]], None]) -> None:
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        pending = {pool.submit(run_one, spec, out_root, None, stop): spec for spec in specs}
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    finished(pending.pop(future), future.result())
        except KeyboardInterrupt:
            stop.set()
            for future in pending:
                future.cancel()
            stopped = [f.result() for f in pending if not f.cancelled()]
            raise Interrupted(f"interrupted: {len(stopped)} run(s) stopped and marked interrupted, "
                              f"{sum(f.cancelled() for f in pending)} not started; the next evaluate over "
                              f"{out_root} runs them") from None
