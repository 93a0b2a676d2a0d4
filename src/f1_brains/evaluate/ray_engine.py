"""`f1-brains evaluate --ray [ADDRESS]`: each run a Ray task on whichever node has a free CPU.

A task runs ``run_one`` into a temporary directory of its node (its own ROS master on a free port there), retries
a run that failed (no summaries, wall limit) up to ``retries`` times, and returns the result with every file of the
run directory; the driver writes them into its own output tree, so a matrix over many machines lands in one OUT as
the local pool's does. A node that dies takes its task with it: Ray runs it again elsewhere (``max_retries``).
Every node needs the package and its .venv at the same path (docs/evaluate.md).

Ctrl-C: the driver raises the matrix's ``StopFlag``; running tasks stop their launches as the local pool's runs do
and return what their nodes saved, marked interrupted, and tasks not yet begun return without running. Only a task
that has not answered within ``STOP_GRACE_S`` is cancelled (Ray then discards what it had). No more than
``QUEUED_PER_CPU`` tasks per CPU of the cluster are submitted at a time, so a stop never waits on a long queue.
"""
from __future__ import annotations

import secrets
import shutil
import socket
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable

from ..errors import ConfigError
from ..util.files import write_json_atomic
from .runs import Interrupted, RunSpec, run_one, stop_processes_with

NODE_RETRIES = 3   # Ray's own retries of a task whose worker or node died
STOP_GRACE_S = 45.0   # s a stopped task has to stop its launch (run_one: SIGINT, SIGKILL after 30 s)
QUEUED_PER_CPU = 2   # tasks submitted per CPU of the cluster: the next run waits on its node, no long queue
FLAG_POLL_S = 0.5   # how often a running task asks the StopFlag


class StopFlag:
    """The matrix's Ctrl-C as a Ray actor every task can ask (ray.cancel would discard a stopped run's files)."""

    def __init__(self) -> None:
        self.raised = False

    def raise_(self) -> None:
        self.raised = True

    def is_raised(self) -> bool:
        return self.raised


def _watch(flag: Any, stop: threading.Event, asked: threading.Event, done: threading.Event) -> None:
    """In a task's thread (Ray lends a task's CPU to another task while its main thread waits in ray.get): set
    ``asked`` after the first answer, ``stop`` once the flag is raised or cannot be asked (the driver went)."""
    import ray  # noqa: PLC0415
    while True:
        try:
            raised = ray.get(flag.is_raised.remote())
        except Exception:   # noqa: BLE001 - any failure to ask (the driver or the worker going) means stop;
            raised = True   # a thread dying here instead would leave run_remote waiting on ``asked`` forever
        if raised:
            stop.set()
        asked.set()
        if raised or done.wait(FLAG_POLL_S):
            return


def run_remote(spec: dict[str, Any], retries: int, tag: str = "", flag: Any = None) -> dict[str, Any]:
    """On a Ray worker: the run (and its retries) in a scratch directory named with the matrix's ``tag``; its result
    and files. With ``flag`` (a StopFlag): stopped once it is raised, the result marked interrupted; already raised
    at the start: nothing runs and the result is None."""
    stop, asked, done = threading.Event(), threading.Event(), threading.Event()
    if flag is not None:
        threading.Thread(target=_watch, args=(flag, stop, asked, done), daemon=True).start()
        asked.wait()
        if stop.is_set():
            return {"result": None, "files": {}}
    spec_ = RunSpec(**spec)
    scratch = Path(tempfile.mkdtemp(prefix=f"f1_brains_run_{tag}_"))
    try:
        for _attempt in range(retries + 1):
            result = run_one(spec_, scratch, stop=stop)
            if result["status"] != "failed":
                break
        run_dir = scratch / spec_.key
        files = {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}
        return {"result": result, "files": files}
    finally:
        done.set()
        shutil.rmtree(scratch, ignore_errors=True)


def _check_reachable(address: str) -> None:
    """HOST:PORT must answer on TCP before ray.init, which retries a dead address for minutes."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return   # "local", "auto": Ray finds or starts the cluster itself
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as e:
        raise ConfigError(f"no Ray cluster reachable at {address!r}: {e.strerror or e}") from None


class RayEngine:
    def __init__(self, address: str, jobs: int = 1, cpus_per_run: float = 1.0, retries: int = 1) -> None:
        try:
            import ray  # noqa: PLC0415
        except ImportError:
            raise ConfigError("--ray needs the ray package: pip install ray==2.60.0 (requirements.txt has it)") from None
        self.ray, self.retries, self.address, self.cpus_per_run = ray, retries, address, cpus_per_run
        self.tag = secrets.token_hex(4)   # in every run's scratch directory: this matrix's processes, no one else's
        _check_reachable(address)
        try:
            if address == "local":
                ray.init(num_cpus=jobs, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
            else:
                ray.init(address=address, log_to_driver=False, logging_level="ERROR")
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise ConfigError(f"no Ray cluster reachable at {address!r}: {e}") from None
        self.task = ray.remote(num_cpus=cpus_per_run, max_retries=NODE_RETRIES)(run_remote)

    def _slots(self) -> int:
        """Tasks to keep submitted: QUEUED_PER_CPU per CPU of the cluster as it is now (nodes may join)."""
        cpus = self.ray.cluster_resources().get("CPU", 0.0)
        return max(1, int(QUEUED_PER_CPU * cpus / self.cpus_per_run))

    def run(self, specs: list[RunSpec], out_root: Path, finished: Callable[[RunSpec, dict[str, Any]], None]) -> None:
        ray = self.ray
        flag = ray.remote(num_cpus=0)(StopFlag).remote()
        queue, pending = list(specs), {}
        try:
            while queue or pending:
                while queue and len(pending) < self._slots():
                    spec = queue.pop(0)
                    pending[self.task.remote(spec.__dict__, self.retries, self.tag, flag)] = spec
                done, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
                for ref in done:
                    spec = pending.pop(ref)
                    finished(spec, self._land(spec, out_root, ref))
        except KeyboardInterrupt:
            raise self._stop(flag, pending, len(queue), out_root) from None
        finally:
            ray.shutdown()

    def _stop(self, flag: Any, pending: dict, unsent: int, out_root: Path) -> Interrupted:
        """Ctrl-C: every submitted task stops (its launch's nodes write their files), ends, or returns unbegun, and
        lands. One that does not answer in time is cancelled; OUT keeps what it had of that run (an earlier result),
        else the run is marked interrupted."""
        ray = self.ray
        flag.raise_.remote()
        # Ray must not go before the tasks have stopped their launches: a local Ray shut down at once killed the
        # workers mid-stop and left the runs' nodes orphaned.
        answered, late = ray.wait(list(pending), num_returns=len(pending), timeout=STOP_GRACE_S)
        statuses = [(self._land(pending[ref], out_root, ref) or {}).get("status") for ref in answered]
        for ref in late:
            ray.cancel(ref)   # KeyboardInterrupt in the task: run_one stops its launch
        if late:
            ray.wait(late, num_returns=len(late), timeout=5.0)
            if self.address == "local":   # Ray is about to kill the late tasks' workers, whose launches' nodes
                stop_processes_with(f"f1_brains_run_{self.tag}_")   # would live on, orphaned
        for ref in late:
            spec = pending[ref]
            if not (out_root / spec.key / "result.json").is_file():
                self._write(out_root, spec, {**spec.__dict__, "completed": False, "status": "interrupted",
                                             "end_reason": "interrupted (its task did not stop in time)",
                                             "recorded": None}, {})
        late_ = f", {len(late)} cancelled after {STOP_GRACE_S:.0f} s (what they had is lost)" if late else ""
        ended = len(statuses) - statuses.count("interrupted") - statuses.count(None)
        ended_ = f"{ended} ended meanwhile (saved), " if ended else ""
        return Interrupted(f"interrupted: {statuses.count('interrupted')} run(s) stopped and marked interrupted, "
                           f"{ended_}{statuses.count(None) + unsent} not started{late_}; the next evaluate over "
                           f"{out_root} runs them")

    def _land(self, spec: RunSpec, out_root: Path, ref) -> dict[str, Any] | None:
        """The task's result and files in OUT; a task Ray gave up on becomes a failed result with the reason; a
        task the StopFlag kept from starting leaves OUT as it was (None)."""
        try:
            answer = self.ray.get(ref)
        except self.ray.exceptions.RayError as e:
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            result = {**spec.__dict__, "completed": False, "status": "failed",
                      "end_reason": f"Ray task failed after {NODE_RETRIES} retries: {reason}", "recorded": None}
            self._write(out_root, spec, result, {})
            return result
        if answer["result"] is not None:
            self._write(out_root, spec, answer["result"], answer["files"])
        return answer["result"]

    @staticmethod
    def _write(out_root: Path, spec: RunSpec, result: dict[str, Any], files: dict[str, bytes]) -> None:
        run_dir = out_root / spec.key
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir(parents=True)
        for name, data in files.items():
            (run_dir / name).parent.mkdir(parents=True, exist_ok=True)
            (run_dir / name).write_bytes(data)
        write_json_atomic(run_dir / "result.json", result)
