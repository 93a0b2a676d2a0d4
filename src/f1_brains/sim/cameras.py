"""Which renderer draws a circuit's camera: the fast field renderer, or the real meshes of a ``.world``.

``auto`` renders a CustomRobots ``.world`` from its own meshes (OpenGL through EGL/OSMesa) and everything
else (built-in circuits, points files) with the field renderer; ``field`` forces the field renderer on a
``.world`` too (its measured red line and walls, no GL needed); ``mesh`` needs a ``.world``.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from ..worlds.track import Track
from .renderer import Appearance, Renderer

KINDS = ("auto", "field", "mesh")


def make_camera(circuit: str, track: Track, kind: str = "auto", appearance: Appearance = Appearance()):
    """A renderer with ``render(x, y, yaw, out=None) -> rgb8 640x480`` for ``circuit``."""
    if kind not in KINDS:
        raise ConfigError(f"renderer must be one of {', '.join(KINDS)}, not {kind!r}")
    is_world = Path(circuit).suffix == ".world"
    if kind == "mesh" and not is_world:
        raise ConfigError(f"renderer mesh needs a CustomRobots .world file as the circuit, not {circuit!r}")
    if is_world and kind in ("auto", "mesh"):
        from .mesh_renderer import MeshRenderer  # noqa: PLC0415 (OpenGL only where real meshes are drawn)
        return MeshRenderer(circuit)
    return Renderer(track, appearance)
