"""Stress conditions: named, levelled, seeded perturbations of the camera, applied by the simulator after rendering
(so every brain of a matrix sees the same perturbed frames for a given seed).

A condition is written ``family:level`` (``none`` for the world as it is):

| family | level | what the camera gives |
|---|---|---|
| noise | 1-64 | Gaussian pixel noise, sigma in 8-bit levels |
| blur | 0.5-8 | Gaussian blur, sigma in pixels (defocus, motion) |
| jpeg | 5-95 | JPEG compression at this quality (a compressed image transport) |
| dim | 0.1-0.95 | every pixel scaled by the level (dusk, a darker world) |
| drop | 0.05-0.9 | each frame lost with this probability (the brain's last command stays in force) |
| latency | 10-500 | not the camera: each command takes effect this many ms later (the sim node's command queue) |
| speed | 1.05-3 | not the camera: the car drives at this many times each command's speed, its turn rate as commanded (a car faster than the one the brain learned: its paths bend this much wider) |
| yaw | 0.5-45 | the camera turned left on its mount by this many degrees (rendered so: exact) |
| pitch | 0.5-25 | the camera tilted down on its mount by this many degrees (rendered so: the ground, markings and meshes exact; the field renderer draws each wall's face upright in its foot's column, where a tilted camera would lean it by up to a few pixels at the image's edges) |
| height | 0.5-10 | the camera raised on its mount by this many cm (0.104 m high in the real car; rendered so: exact) |
| sun | 5-180 | the sun turned about the vertical by this many degrees: every wall (and, on real meshes, every face) shaded by how it faces the sun (rendered so) |

Levels outside the range are refused with the range, before anything runs.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from ..core.conditions import Condition
from .renderer import CAMERA_FORWARD, CAMERA_HEIGHT, CAMERA_LEFT, Rig

__all__ = ["CameraPerturbation", "Condition"]


class CameraPerturbation:
    """Applies a condition to rgb8 frames, in place where it can; seeded, so a run is reproducible."""

    def __init__(self, condition: Condition, seed: int = 0) -> None:
        self.condition = condition
        self.rng = np.random.default_rng(seed)

    @property
    def rig(self) -> Rig:
        """How the renderer draws the world: the camera raised by the level (cm) for ``height``, tilted down by it
        (degrees) for ``pitch``, the sun turned by it (degrees) for ``sun``; the real car and world otherwise."""
        family, level = self.condition.family, self.condition.level
        return Rig(camera_height=CAMERA_HEIGHT + (level / 100 if family == "height" else 0.0),
                   sun_turn=math.radians(level) if family == "sun" else 0.0,
                   camera_pitch=math.radians(level) if family == "pitch" else 0.0)

    def view(self, x: float, y: float, yaw: float) -> tuple[float, float, float]:
        """The car pose to render from: for ``yaw``, the camera turned about its own mount point (so the car pose
        moves by what the turn would move the camera); otherwise the car's own pose."""
        if self.condition.family != "yaw":
            return x, y, yaw
        turned = yaw + math.radians(self.condition.level)
        mount = np.array([CAMERA_FORWARD, CAMERA_LEFT])
        def rotate(a: float) -> np.ndarray:
            return np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]]) @ mount
        dx, dy = rotate(yaw) - rotate(turned)
        return x + dx, y + dy, turned

    def drops(self) -> bool:
        """Whether the next frame is lost (family drop); draws from the seeded generator only then."""
        return self.condition.family == "drop" and bool(self.rng.random() < self.condition.level)

    def apply(self, image: np.ndarray) -> np.ndarray:
        family, level = self.condition.family, self.condition.level
        if family == "noise":
            noisy = self.rng.standard_normal(image.shape, dtype=np.float32)
            noisy *= level
            noisy += image
            np.clip(noisy, 0, 255, out=noisy)
            np.rint(noisy, out=noisy)
            image[...] = noisy
        elif family == "blur":
            cv2.GaussianBlur(image, (0, 0), level, dst=image)
        elif family == "jpeg":
            ok, data = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(round(level))])
            image[...] = cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]
        elif family == "dim":
            cv2.convertScaleAbs(image, dst=image, alpha=level)
        return image

