"""Which renderer draws a circuit's camera: the fast field renderer, or the real meshes of a ``.world``.

``auto`` renders a CustomRobots ``.world`` from its own meshes (OpenGL through EGL/OSMesa, in a child process)
and everything else (built-in circuits, points files) with the field renderer; ``field`` forces the field renderer on a
``.world`` too (its measured red line and walls, no GL needed); ``mesh`` needs a ``.world``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..errors import ConfigError
from ..worlds.track import Track
from .renderer import Appearance, Renderer, Rig
from .renderer_process import RendererProcess

KINDS = ("auto", "field", "mesh")


def make_camera(circuit: str, track: Track, kind: str = "auto", appearance: Appearance = Appearance(),
                on_restart: Callable[[str], None] | None = None, rig: Rig = Rig()):
    """A renderer with ``render(x, y, yaw, out=None) -> rgb8 640x480`` for ``circuit``, drawn with ``rig`` (camera
    height, sun); real meshes are drawn in a child process (renderer_process.py; ``on_restart`` hears when it had to
    be restarted)."""
    if kind not in KINDS:
        raise ConfigError(f"renderer must be one of {', '.join(KINDS)}, not {kind!r}")
    is_world = Path(circuit).suffix == ".world"
    if kind == "mesh" and not is_world:
        raise ConfigError(f"renderer mesh needs a CustomRobots .world file as the circuit, not {circuit!r}")
    if is_world and kind in ("auto", "mesh"):
        return RendererProcess(circuit, on_restart=on_restart, rig=rig)
    return Renderer(track, appearance, rig)
