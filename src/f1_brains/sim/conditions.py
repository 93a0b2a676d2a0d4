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

Levels outside the range are refused with the range, before anything runs.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import ConfigError

FAMILIES: dict[str, tuple[float, float, str]] = {   # family: (lowest level, highest level, unit)
    "noise": (1.0, 64.0, "sigma, 8-bit levels"),
    "blur": (0.5, 8.0, "sigma, pixels"),
    "jpeg": (5.0, 95.0, "quality"),
    "dim": (0.1, 0.95, "brightness factor"),
    "drop": (0.05, 0.9, "probability a frame is lost"),
}


@dataclass(frozen=True)
class Condition:
    family: str = "none"
    level: float = 0.0

    @classmethod
    def parse(cls, text: str) -> "Condition":
        """``none`` or ``family:level``; ConfigError naming the families or the level's range otherwise."""
        text = str(text).strip()
        if text in ("", "none"):
            return cls()
        family, _, level = text.partition(":")
        if family not in FAMILIES:
            raise ConfigError(f"unknown condition {text!r}: families are "
                              + ", ".join(f"{f} ({lo:g}-{hi:g}, {unit})" for f, (lo, hi, unit) in FAMILIES.items())
                              + "; write family:level, or none")
        lo, hi, unit = FAMILIES[family]
        try:
            value = float(level)
        except ValueError:
            raise ConfigError(f"condition {text!r}: the level must be a number ({family}:{lo:g} to "
                              f"{family}:{hi:g}, {unit})") from None
        if not lo <= value <= hi:
            raise ConfigError(f"condition {text!r}: {family} levels run from {lo:g} to {hi:g} ({unit})")
        return cls(family, value)

    def __str__(self) -> str:
        return "none" if self.family == "none" else f"{self.family}:{self.level:g}"


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
