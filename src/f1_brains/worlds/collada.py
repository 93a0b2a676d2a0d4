"""Triangles of a COLLADA (.dae) file in metres, grouped by material: the subset Gazebo's worlds use.

Reads ``<triangles>`` and ``<polylist>``/``<polygons>`` (fanned into triangles) of every geometry
instanced in the visual scene, through each node's ``<matrix>``/``<translate>``/``<rotate>``/``<scale>``
chain, scaled by the file's ``<unit meter=...>`` and turned to Z up. Each material's diffuse colour and
texture file come along, so callers can pick the red line, the walls or the road by appearance.
"""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError


@dataclass
class Material:
    name: str
    colour: tuple[float, float, float, float] | None = None   # diffuse RGBA in [0, 1]
    texture: Path | None = None                               # diffuse image file, where one is used


@dataclass
class MeshPart:
    material: Material
    triangles: np.ndarray           # (n, 3, 3) vertices in metres, in the file's scene frame (Z up)
    uv: np.ndarray | None = None    # (n, 3, 2) texture coordinates, where the file has them


def _tag(element: ET.Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in element if _tag(c) == name]


def _child(element: ET.Element, name: str) -> ET.Element | None:
    found = _children(element, name)
    return found[0] if found else None


def _floats(element: ET.Element | None) -> np.ndarray:
    return np.array((element.text or "").split(), dtype=np.float64) if element is not None else np.zeros(0)


def _node_matrix(node: ET.Element) -> np.ndarray:
    m = np.eye(4)
    for t in node:
        tag, v = _tag(t), _floats(t)
        if tag == "matrix":
            m = m @ v.reshape(4, 4)
        elif tag == "translate":
            step = np.eye(4)
            step[:3, 3] = v
            m = m @ step
        elif tag == "scale":
            m = m @ np.diag([*v, 1.0])
        elif tag == "rotate":
            axis, angle = v[:3] / np.linalg.norm(v[:3]), math.radians(v[3])
            k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
            step = np.eye(4)
            step[:3, :3] = np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * k @ k
            m = m @ step
    return m


class _Document:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.root = ET.parse(path).getroot()
        except (ET.ParseError, OSError) as e:
            raise ConfigError(f"mesh {path}: cannot be read as COLLADA: {e}") from None
        self.ids = {e.get("id"): e for e in self.root.iter() if e.get("id")}

    def lookup(self, url: str | None) -> ET.Element | None:
        return self.ids.get((url or "").lstrip("#"))

    def scene_transform(self) -> np.ndarray:
        asset = _child(self.root, "asset")
        unit = _child(asset, "unit") if asset is not None else None
        scale = float(unit.get("meter", 1.0)) if unit is not None else 1.0
        up = _child(asset, "up_axis") if asset is not None else None
        axis = (up.text or "Z_UP").strip() if up is not None else "Y_UP"
        to_z_up = {"Z_UP": np.eye(4),
                   "Y_UP": np.array([[1, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1.0]]),
                   "X_UP": np.array([[0, -1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]])}.get(axis)
        if to_z_up is None:
            raise ConfigError(f"mesh {self.path}: unknown up axis {axis!r}")
        return to_z_up @ np.diag([scale, scale, scale, 1.0])

    def material(self, material_id: str | None) -> Material:
        element = self.lookup(material_id)
        if element is None:
            return Material(name=str(material_id))
        material = Material(name=element.get("name") or element.get("id") or "")
        instance = _child(element, "instance_effect")
        effect = self.lookup(instance.get("url")) if instance is not None else None
        if effect is None:
            return material
        diffuse = next((d for d in effect.iter() if _tag(d) == "diffuse"), None)
        if diffuse is None:
            return material
        colour = _child(diffuse, "color")
        if colour is not None:
            material.colour = tuple(float(c) for c in _floats(colour)[:4])
        texture = _child(diffuse, "texture")
        if texture is not None:
            material.texture = self._texture_file(effect, texture.get("texture", ""))
        return material

    def _texture_file(self, effect: ET.Element, sampler: str) -> Path | None:
        """Follow sampler -> surface -> image (COLLADA 1.4), or take the image id directly."""
        params = {p.get("sid"): p for p in effect.iter() if _tag(p) == "newparam"}
        image_id = sampler
        for _ in range(3):
            param = params.get(image_id)
            if param is None:
                break
            source = next((s for s in param.iter() if _tag(s) in ("source", "init_from")), None)
            image_id = (source.text or "").strip() if source is not None else image_id
        image = self.ids.get(image_id)
        init = next((i for i in image.iter() if _tag(i) == "init_from"), None) if image is not None else None
        if init is None or not (init.text or "").strip():
            return None
        name = (init.text or "").strip().replace("file://", "")
        return (self.path.parent / name).resolve()


def _primitive_triangles(primitive: ET.Element, sources: dict[str, np.ndarray],
                         vertices: dict[str, str]) -> tuple[np.ndarray, np.ndarray | None]:
    """(vertex indices, uv indices) for the primitive's triangles, and the position / uv arrays."""
    inputs = _children(primitive, "input")
    stride = max(int(i.get("offset", 0)) for i in inputs) + 1 if inputs else 1
    p = np.concatenate([_floats(e).astype(np.int64) for e in _children(primitive, "p")]) \
        if _children(primitive, "p") else np.zeros(0, np.int64)
    idx = p.reshape(-1, stride)
    if _tag(primitive) in ("polylist", "polygons"):
        counts = (_floats(_child(primitive, "vcount")).astype(np.int64) if _tag(primitive) == "polylist"
                  else np.array([len(_floats(e)) // stride for e in _children(primitive, "p")]))
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        fan = [(s, s + k, s + k + 1) for s, c in zip(starts, counts) for k in range(1, c - 1)]
        idx = idx[np.array(fan, dtype=np.int64).reshape(-1)] if fan else idx[:0]
    position = uv = None
    for i in inputs:
        semantic, offset, source = i.get("semantic"), int(i.get("offset", 0)), (i.get("source") or "").lstrip("#")
        if semantic == "VERTEX":
            position = sources[vertices[source]][idx[:, offset]]
        elif semantic == "TEXCOORD" and uv is None and source in sources:
            uv = sources[source][idx[:, offset]][:, :2]
    if position is None:
        return np.zeros((0, 3, 3)), None
    n = len(position) // 3 * 3
    return position[:n].reshape(-1, 3, 3), (uv[:n].reshape(-1, 3, 2) if uv is not None else None)


def _geometry_parts(doc: _Document, geometry: ET.Element, bindings: dict[str, str]) -> list[MeshPart]:
    mesh = _child(geometry, "mesh")
    if mesh is None:
        return []
    sources: dict[str, np.ndarray] = {}
    for source in _children(mesh, "source"):
        array = _child(source, "float_array")
        accessor = next((a for a in source.iter() if _tag(a) == "accessor"), None)
        stride = int(accessor.get("stride", 1)) if accessor is not None else 1
        if array is not None:
            sources[source.get("id")] = _floats(array).reshape(-1, stride)
    vertices = {}
    for v in _children(mesh, "vertices"):
        position = next(i for i in _children(v, "input") if i.get("semantic") == "POSITION")
        vertices[v.get("id")] = position.get("source", "").lstrip("#")
    parts = []
    for primitive in mesh:
        if _tag(primitive) not in ("triangles", "polylist", "polygons"):
            continue   # lines and points draw nothing solid
        tris, uv = _primitive_triangles(primitive, sources, vertices)
        if len(tris):
            symbol = primitive.get("material")
            parts.append(MeshPart(doc.material(bindings.get(symbol, symbol)), tris, uv))
    return parts


def read_triangles(path: str | Path) -> list[MeshPart]:
    """Every solid triangle of the file's visual scene in metres (Z up), one part per geometry and material."""
    doc = _Document(Path(path))
    scene = _child(doc.root, "scene")
    instance = _child(scene, "instance_visual_scene") if scene is not None else None
    visual = doc.lookup(instance.get("url")) if instance is not None else None
    if visual is None:
        visual = next((e for e in doc.root.iter() if _tag(e) == "visual_scene"), None)
    if visual is None:
        raise ConfigError(f"mesh {path}: no visual scene")
    parts: list[MeshPart] = []

    def visit(node: ET.Element, parent: np.ndarray, depth: int) -> None:
        if depth > 64:
            raise ConfigError(f"mesh {path}: node hierarchy deeper than 64 (a cycle of instance_node?)")
        m = parent @ _node_matrix(node)
        for item in node:
            tag = _tag(item)
            if tag == "node":
                visit(item, m, depth + 1)
            elif tag == "instance_node":
                target = doc.lookup(item.get("url"))
                if target is not None:
                    visit(target, m, depth + 1)
            elif tag == "instance_geometry":
                geometry = doc.lookup(item.get("url"))
                bindings = {b.get("symbol"): b.get("target", "").lstrip("#")
                            for b in item.iter() if _tag(b) == "instance_material"}
                for part in _geometry_parts(doc, geometry, bindings) if geometry is not None else []:
                    flat = part.triangles.reshape(-1, 3)
                    part.triangles = (flat @ m[:3, :3].T + m[:3, 3]).reshape(-1, 3, 3)
                    parts.append(part)

    visit(visual, doc.scene_transform(), 0)
    return parts
