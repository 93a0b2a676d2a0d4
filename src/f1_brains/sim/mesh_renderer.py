"""The camera over a real Gazebo world's meshes: pyrender on Mesa (llvmpipe) through EGL or OSMesa, headless.

Every visual mesh of the ``.world`` (COLLADA/OBJ, in metres, with its node and SDF transforms) is merged into
one primitive per material, textures and texture coordinates included, back faces culled. Lighting is
Gazebo's fixed-function model, computed once per triangle: colour x (scene ambient + sun diffuse x
max(0, n . -sun)), clipped; the frame is then drawn unlit (flat), which keeps llvmpipe fast. The camera is
the f1_renault one (renderer.py: pose, 90 degree FOV, 640x480, clip 0.1-15 m) and the sky is the background.
llvmpipe draws on one thread unless ``LP_NUM_THREADS`` says otherwise, so it leaves the other cores to brains.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..worlds.collada import MeshPart
from ..worlds.gazebo_world import SUN_DIFFUSE, GazeboWorld, read_world
from ..worlds.measure import placed_triangles
from .renderer import (
    CAMERA_FORWARD,
    CAMERA_LEFT,
    FAR_CLIP,
    HEIGHT,
    NEAR_CLIP,
    WIDTH,
    Rig,
    camera_matrix,
)

SKY = (0.70, 0.78, 0.90)             # background where nothing is drawn (beyond the far clip)
GL_PLATFORMS = ("egl", "osmesa")


def _import_pyrender():
    """pyrender on a headless platform: EGL first, then OSMesa; one clear error if neither works."""
    os.environ.setdefault("LP_NUM_THREADS", "1")   # llvmpipe on one core, beside the brain (override: set it)
    errors = []
    for platform in ([os.environ["PYOPENGL_PLATFORM"]] if os.environ.get("PYOPENGL_PLATFORM") else GL_PLATFORMS):
        os.environ["PYOPENGL_PLATFORM"] = platform
        try:
            import pyrender  # noqa: PLC0415 (only the real-mesh renderer needs OpenGL)
            renderer = pyrender.OffscreenRenderer(WIDTH, HEIGHT)
            return pyrender, renderer
        except Exception as e:   # noqa: BLE001 (ImportError, GL and EGL errors all mean "no GL here")
            errors.append(f"{platform}: {type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}")
            os.environ.pop("PYOPENGL_PLATFORM", None)
    raise ConfigError("rendering real meshes needs OpenGL through EGL or OSMesa (Debian: libegl-mesa0 "
                      "libgl1-mesa-dri, or libosmesa6; pip: pyrender), and none works here: " + "; ".join(errors))


def _lit_colours(part: MeshPart, ambient: np.ndarray, sun: np.ndarray | None) -> np.ndarray:
    """Per-vertex RGBA: the material's shade under ambient + sun, as Gazebo's fixed lighting gives it."""
    tris = part.triangles
    normal = np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0])
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
    light = np.broadcast_to(ambient, (len(tris), 3)).copy()
    if sun is not None:
        light += SUN_DIFFUSE * np.clip(normal @ -sun, 0, None)[:, None]
    tint = np.array(part.material.colour[:3] if part.material.colour and part.material.texture is None
                    else (1.0, 1.0, 1.0))
    rgb = np.clip(light * tint, 0, 1)
    return np.repeat(np.column_stack([rgb, np.ones(len(tris))]), 3, axis=0).astype(np.float32)


def _texture_image(path: Path) -> np.ndarray | None:
    import cv2  # noqa: PLC0415
    image = cv2.imread(str(path), cv2.IMREAD_COLOR) if path.is_file() else None
    return None if image is None else np.ascontiguousarray(image[..., ::-1])


class MeshRenderer:
    """Renders the car's camera view of a Gazebo world's real meshes (``render`` like Renderer's)."""

    def __init__(self, world: GazeboWorld | str | Path, rig: Rig = Rig()) -> None:
        self.camera_height = rig.camera_height
        self._tilt = (math.cos(rig.camera_pitch), math.sin(rig.camera_pitch))
        self.world = world if isinstance(world, GazeboWorld) else read_world(world)
        self._pyrender, self._gl = _import_pyrender()
        pyrender = self._pyrender
        self.scene = pyrender.Scene(ambient_light=np.zeros(3), bg_color=np.array([*SKY, 1.0]))
        ambient = np.array(self.world.ambient, dtype=np.float64)
        sun = rig.sun(self.world.sun_direction)
        groups: dict[tuple, list[MeshPart]] = {}
        for placed in (m for m in self.world.meshes if m.role == "visual"):
            for part in placed_triangles(placed):
                key = (part.material.name, part.material.texture, part.material.colour, part.uv is not None)
                groups.setdefault(key, []).append(part)
        textures: dict[Path, object] = {}
        for (_, texture, colour, has_uv), parts in groups.items():
            positions = np.concatenate([p.triangles for p in parts]).reshape(-1, 3).astype(np.float32)
            colours = np.concatenate([_lit_colours(p, ambient, sun) for p in parts])
            material_kwargs = {"baseColorFactor": [1.0, 1.0, 1.0, 1.0 if not colour else colour[3]]}
            uv = None
            if texture is not None and has_uv:
                if texture not in textures:
                    image = _texture_image(texture)
                    textures[texture] = pyrender.Texture(source=image, source_channels="RGB") \
                        if image is not None else None
                if textures[texture] is not None:
                    material_kwargs["baseColorTexture"] = textures[texture]
                    uv = np.concatenate([p.uv for p in parts]).reshape(-1, 2).astype(np.float32)
                    uv[:, 1] = 1.0 - uv[:, 1]             # COLLADA's v runs up, OpenGL textures' down
            primitive = pyrender.Primitive(positions=positions, color_0=colours, texcoord_0=uv,
                                           material=pyrender.MetallicRoughnessMaterial(**material_kwargs))
            self.scene.add(pyrender.Mesh([primitive]))
        f = camera_matrix()[0, 0]
        camera = pyrender.IntrinsicsCamera(fx=f, fy=f, cx=WIDTH / 2, cy=HEIGHT / 2, znear=NEAR_CLIP, zfar=FAR_CLIP)
        self._camera = self.scene.add(camera, pose=np.eye(4))
        self._flags = pyrender.RenderFlags.FLAT

    def camera_pose(self, x: float, y: float, yaw: float) -> np.ndarray:
        """4x4 OpenGL camera pose (looking down its -z, y up) for the car at (x, y, yaw)."""
        c, s = math.cos(yaw), math.sin(yaw)
        cos_p, sin_p = self._tilt            # tilted down about the image's right axis
        pose = np.eye(4)
        pose[:3, 0] = (s, -c, 0.0)                              # image right
        pose[:3, 1] = (c * sin_p, s * sin_p, cos_p)             # image up
        pose[:3, 2] = (-c * cos_p, -s * cos_p, sin_p)           # behind the camera
        pose[:3, 3] = (x + CAMERA_FORWARD * c - CAMERA_LEFT * s, y + CAMERA_FORWARD * s + CAMERA_LEFT * c,
                       self.camera_height)
        return pose

    def render(self, x: float, y: float, yaw: float, out: np.ndarray | None = None) -> np.ndarray:
        """The rgb8 640x480 camera image for the car at (x, y) heading ``yaw`` (rad)."""
        self.scene.set_pose(self._camera, self.camera_pose(x, y, yaw))
        colour, self._depth = self._gl.render(self.scene, flags=self._flags)
        if out is None:
            return np.ascontiguousarray(colour)
        np.copyto(out, colour)
        return out

    def masks(self, raised: float = 0.03) -> tuple[np.ndarray, np.ndarray]:
        """(walls, ground) pixel masks of the last frame: drawn geometry more / less than ``raised`` m above
        the ground, from the depth buffer (for fidelity measurements)."""
        depth = self._depth
        rows = np.arange(HEIGHT)[:, None] + 0.5
        cos_p, sin_p = self._tilt
        height = self.camera_height + (HEIGHT / 2 - rows) * depth / camera_matrix()[1, 1] * cos_p - depth * sin_p
        drawn = depth > 0
        return drawn & (height > raised), drawn & (height <= raised)

    def close(self) -> None:
        self._gl.delete()
