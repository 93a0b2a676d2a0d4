"""The real-mesh camera (sim/mesh_renderer.py) in a child process: a crash in OpenGL costs a restart, not the run.

Mesa's llvmpipe has killed the simulator with SIGSEGV inside a draw call (once in CI's 14th minute, not reproduced
in a row of standalone laps), which ended the lap with no summary written. And TensorFlow's LLVM cannot share a
process with Mesa's. Drawn in a child, the first costs one restart (about 2 s: the world's meshes read again, the
frame drawn again; the run's summary counts it), the second nothing.

The protocol is the child's stdin and stdout: one status line when it is ready (``ok`` or ``error <reason>``), then
per frame three float64 (x, y, yaw) in and ``HEIGHT x WIDTH x 3`` bytes of rgb8 out. The child sends its own
stdout to stderr, so nothing a library prints can land inside a frame.
"""
from __future__ import annotations

import os
import select
import signal
import struct
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import ConfigError, F1BrainsError
from .renderer import HEIGHT, WIDTH, Rig

POSE = struct.Struct("<3d")
FRAME_BYTES = HEIGHT * WIDTH * 3


class RendererCrashed(F1BrainsError):
    """The renderer process died more often than a run allows."""


def _package_root() -> str:
    return str(Path(__file__).resolve().parents[2])


def exit_reason(returncode: int) -> str:
    """'killed by SIGSEGV' or 'exited with status 1'."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with status {returncode}"


class RendererProcess:
    """``MeshRenderer(world, rig)`` in a child process, with its ``render(x, y, yaw, out=None)``; restarted up to
    ``max_restarts`` times when it dies (``on_restart`` hears why), then ``render`` raises RendererCrashed."""

    def __init__(self, world: str | Path, max_restarts: int = 3, frame_timeout: float = 60.0,
                 on_restart: Callable[[str], None] | None = None, rig: Rig = Rig()) -> None:
        self.world, self.rig = str(world), rig
        self.max_restarts, self.frame_timeout = max_restarts, frame_timeout
        self.on_restart = on_restart or (lambda message: print(message, file=sys.stderr, flush=True))
        self.crashes: list[str] = []
        self._process: subprocess.Popen | None = None
        self._start()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def _start(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_package_root(), env.get("PYTHONPATH")) if p)
        self._process = subprocess.Popen([sys.executable, "-m", __name__, self.world,
                                          repr(self.rig.camera_height), repr(self.rig.sun_turn),
                                          repr(self.rig.camera_pitch)], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, env=env)
        status = self._process.stdout.readline().decode(errors="replace").rstrip("\n")
        if status != "ok":
            self._process.wait()
            reason = status.removeprefix("error ") if status else exit_reason(self._process.returncode)
            raise ConfigError(f"the mesh renderer for {self.world} did not start: {reason}")

    def render(self, x: float, y: float, yaw: float, out: np.ndarray | None = None) -> np.ndarray:
        """The rgb8 640x480 camera image for the car at (x, y) heading ``yaw`` (rad), as MeshRenderer draws it."""
        out = np.empty((HEIGHT, WIDTH, 3), np.uint8) if out is None else out
        while True:
            answered = False
            try:
                self._process.stdin.write(POSE.pack(x, y, yaw))
                self._process.stdin.flush()
                answered = bool(select.select([self._process.stdout], [], [], self.frame_timeout)[0])
                if answered and self._process.stdout.readinto(memoryview(out).cast("B")) == FRAME_BYTES:
                    return out
            except OSError:   # BrokenPipeError: it died before reading the pose
                answered = True
            self._restart(f"answered no frame for {self.frame_timeout:g} s" if not answered else None)

    def _restart(self, hung: str | None) -> None:
        """Stop what is left of the child, name why it went, and start another (or give up)."""
        if hung:
            self._process.kill()
        try:
            returncode = self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            returncode = self._process.wait()
        reason = hung or exit_reason(returncode)
        self.crashes.append(reason)
        if len(self.crashes) > self.max_restarts:
            raise RendererCrashed(f"the mesh renderer died {len(self.crashes)} times (last: {reason}); "
                                  f"giving up after {self.max_restarts} restarts")
        self.on_restart(f"mesh renderer {reason}; restarting it ({len(self.crashes)} of {self.max_restarts}) "
                        "and drawing the frame again")
        self._start()

    def close(self) -> None:
        """Ask the child to end (stdin closed), kill it if it does not within 5 s."""
        process, self._process = self._process, None
        if process is None:
            return
        try:
            process.stdin.close()
        except OSError:
            pass
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()

    def __enter__(self) -> "RendererProcess":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_process", None) is not None:
            self.close()


def serve(world: str, rig: Rig = Rig()) -> int:
    """The child: one status line, then a frame for every pose until stdin closes."""
    frames = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)   # whatever else prints goes to stderr, never into a frame
    poses = sys.stdin.buffer
    try:
        from .mesh_renderer import MeshRenderer  # noqa: PLC0415 (OpenGL only in this process)
        renderer = MeshRenderer(world, rig)
    except F1BrainsError as e:
        frames.write(("error " + " ".join(str(e).split()) + "\n").encode())
        frames.flush()
        return 1
    frames.write(b"ok\n")
    frames.flush()
    image = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    try:
        while (pose := poses.read(POSE.size)) and len(pose) == POSE.size:
            renderer.render(*POSE.unpack(pose), out=image)
            frames.write(image.data)
            frames.flush()
    except BrokenPipeError:   # the simulator went first
        pass
    return 0


if __name__ == "__main__":
    import faulthandler
    faulthandler.enable()   # a crash in OpenGL leaves its Python stack on stderr
    sys.exit(serve(sys.argv[1], Rig(*map(float, sys.argv[2:5]))))
