"""Triangles of a Wavefront OBJ file (with its MTL materials), grouped by material, in the file's units.

OBJ has no unit or up-axis declaration: Gazebo takes its coordinates as metres, Z up, and so do we.
Faces with more than three corners are fanned into triangles; negative (relative) indices are honoured.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .collada import Material, MeshPart


def read_materials(path: Path) -> dict[str, Material]:
    materials: dict[str, Material] = {}
    current: Material | None = None
    for line in path.read_text(errors="replace").splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "newmtl" and len(words) > 1:
            current = materials.setdefault(words[1], Material(words[1]))
        elif current is not None and words[0] == "Kd" and len(words) >= 4:
            current.colour = (*(float(v) for v in words[1:4]), 1.0)
        elif current is not None and words[0] == "map_Kd" and len(words) > 1:
            current.texture = (path.parent / words[-1]).resolve()
    return materials


def read_obj_triangles(path: str | Path) -> list[MeshPart]:
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"mesh {path}: cannot be read as OBJ: {e}") from None
    vertices: list[list[float]] = []
    uvs: list[list[float]] = []
    materials: dict[str, Material] = {}
    faces: dict[str, list[tuple[list[int], list[int]]]] = {}
    current = ""
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        try:
            if words[0] == "v":
                vertices.append([float(v) for v in words[1:4]])
            elif words[0] == "vt":
                uvs.append([float(v) for v in words[1:3]])
            elif words[0] == "mtllib" and (path.parent / words[-1]).is_file():
                materials.update(read_materials(path.parent / words[-1]))
            elif words[0] == "usemtl":
                current = words[-1] if len(words) > 1 else ""
            elif words[0] == "f":
                corners = [w.split("/") for w in words[1:]]
                v = [int(c[0]) for c in corners]
                t = [int(c[1]) if len(c) > 1 and c[1] else 0 for c in corners]
                v = [i - 1 if i > 0 else len(vertices) + i for i in v]
                t = [i - 1 if i > 0 else len(uvs) + i if i < 0 else -1 for i in t]
                for k in range(1, len(v) - 1):
                    faces.setdefault(current, []).append(([v[0], v[k], v[k + 1]], [t[0], t[k], t[k + 1]]))
        except (ValueError, IndexError):
            raise ConfigError(f"mesh {path}:{number}: malformed OBJ line {line.strip()!r}") from None
    points = np.array(vertices, dtype=np.float64).reshape(-1, 3)
    coords = np.array(uvs, dtype=np.float64).reshape(-1, 2)
    parts = []
    for name, triangles in faces.items():
        index = np.array([f[0] for f in triangles], dtype=np.int64)
        if index.size and (index.min() < 0 or index.max() >= len(points)):
            raise ConfigError(f"mesh {path}: a face refers to a vertex that does not exist")
        uv_index = np.array([f[1] for f in triangles], dtype=np.int64)
        uv = coords[uv_index] if len(coords) and uv_index.min() >= 0 and uv_index.max() < len(coords) else None
        parts.append(MeshPart(materials.get(name, Material(name)), points[index], uv))
    return parts
