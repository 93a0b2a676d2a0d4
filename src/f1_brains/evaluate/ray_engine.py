"""`f1-brains evaluate --ray [ADDRESS]`: each run a Ray task on whichever node has a free CPU.

A task runs ``run_one`` into a temporary directory of its node (its own ROS master on a free port there), retries
a run that failed (no summaries, wall limit) up to ``retries`` times, and returns the result with every file of the
run directory; the driver writes them into its own output tree, so a matrix over many machines lands in one OUT as
the local pool's does. A node that dies takes its task with it: Ray runs it again elsewhere (``max_retries``).
Every node needs the package and its .venv at the same path (docs/evaluate.md).
"""
from __future__ import annotations

import secrets
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Any, Callable

from ..errors import ConfigError
from ..util.files import write_json_atomic
from .runs import Interrupted, RunSpec, run_one, stop_processes_with

NODE_RETRIES = 3   # Ray's own retries of a task whose worker or node died
STOP_GRACE_S = 45.0   # s a cancelled task has to stop its launch (run_one: SIGINT, SIGKILL after 30 s)


def run_remote(spec: dict[str, Any], retries: int, tag: str = "") -> dict[str, Any]:
    """On a Ray worker: the run (and its retries) in a scratch directory named with the matrix's ``tag``; its result
    and files."""
    spec_ = RunSpec(**spec)
    scratch = Path(tempfile.mkdtemp(prefix=f"f1_brains_run_{tag}_"))
    try:
        for _attempt in range(retries + 1):
            result = run_one(spec_, scratch)
            if result["status"] != "failed":
                break
        run_dir = scratch / spec_.key
        files = {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}
        return {"result": result, "files": files}
    finally:
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
        self.ray, self.retries, self.address = ray, retries, address
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

    def run(self, specs: list[RunSpec], out_root: Path, finished: Callable[[RunSpec, dict[str, Any]], None]) -> None:
        ray = self.ray
        pending = {self.task.remote(spec.__dict__, self.retries, self.tag): spec for spec in specs}
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
                for ref in done:
                    spec = pending.pop(ref)
                    finished(spec, self._land(spec, out_root, ref))
        except KeyboardInterrupt:
            for ref in pending:
                ray.cancel(ref)   # KeyboardInterrupt in the task: run_one stops its launch
            # Let each task stop its launch (SIGINT; its nodes write their files; SIGKILL after 30 s) before Ray goes:
            # a local Ray shut down at once killed the workers mid-stop and left the runs' nodes orphaned.
            ray.wait(list(pending), num_returns=len(pending), timeout=STOP_GRACE_S)
            if self.address == "local":   # a task the cancel did not reach in time: Ray is about to kill its worker,
                stop_processes_with(f"f1_brains_run_{self.tag}_")   # whose launch's nodes would live on, orphaned
            for spec in pending.values():
                self._write(out_root, spec, {**spec.__dict__, "completed": False, "status": "interrupted",
                                             "end_reason": "interrupted", "recorded": None}, {})
            raise Interrupted(f"interrupted: {len(pending)} Ray task(s) cancelled and marked interrupted; the next "
                              f"evaluate over {out_root} runs them") from None
        finally:
            ray.shutdown()

    def _land(self, spec: RunSpec, out_root: Path, ref) -> dict[str, Any]:
        """The task's result and files in OUT; a task Ray gave up on becomes a failed result with the reason."""
        try:
            answer = self.ray.get(ref)
        except self.ray.exceptions.RayError as e:
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            result = {**spec.__dict__, "completed": False, "status": "failed",
                      "end_reason": f"Ray task failed after {NODE_RETRIES} retries: {reason}", "recorded": None}
            self._write(out_root, spec, result, {})
            return result
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
