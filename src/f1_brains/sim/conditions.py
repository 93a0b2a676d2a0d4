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

Levels outside the range are refused with the range, before anything runs.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..core.conditions import Condition

__all__ = ["CameraPerturbation", "Condition"]


class CameraPerturbation:
    """Applies a condition to rgb8 frames, in place where it can; seeded, so a run is reproducible."""

    def __init__(self, condition: Condition, seed: int = 0) -> None:
        self.condition = condition
        self.rng = np.random.default_rng(seed)

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
