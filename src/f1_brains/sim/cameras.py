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
from .renderer import CAMERA_HEIGHT, Appearance, Renderer
from .renderer_process import RendererProcess

KINDS = ("auto", "field", "mesh")


def make_camera(circuit: str, track: Track, kind: str = "auto", appearance: Appearance = Appearance(),
                on_restart: Callable[[str], None] | None = None, camera_height: float = CAMERA_HEIGHT):
    """A renderer with ``render(x, y, yaw, out=None) -> rgb8 640x480`` for ``circuit``, its camera ``camera_height``
    m above the ground; real meshes are drawn in a child process (renderer_process.py; ``on_restart`` hears when it
    had to be restarted)."""
    if kind not in KINDS:
        raise ConfigError(f"renderer must be one of {', '.join(KINDS)}, not {kind!r}")
    is_world = Path(circuit).suffix == ".world"
    if kind == "mesh" and not is_world:
        raise ConfigError(f"renderer mesh needs a CustomRobots .world file as the circuit, not {circuit!r}")
    if is_world and kind in ("auto", "mesh"):
        return RendererProcess(circuit, on_restart=on_restart, camera_height=camera_height)
    return Renderer(track, appearance, camera_height)
