"""The explicit brain: the classic OpenCV red-line follower (and the expert that records training data).

Segment the red line in a few image rows below the horizon, steer with a PD controller on the near
row's lateral error, and choose speed from how far the line bends between the near and the far rows.
It answers like a network Brain (``step`` -> Decision with timings), so the same node drives it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from ..errors import BadImage, ConfigError
from .commands import Decision, Limits

HEIGHT, WIDTH = 480, 640


@dataclass(frozen=True)
class ExplicitParams:
    near_row: int = 300        # rows below the horizon (240) where the line is measured
    far_row: int = 252
    kp: float = 4.0            # rad/s per unit error (error: line x offset / half width)
    kd: float = 2.0
    v_max: float = 10.0        # m/s on straights
    v_min: float = 4.5         # m/s in the tightest bends
    bend_gain: float = 10.0    # speed lost per unit of near/far disagreement
    lost_v: float = 3.0        # speed while the line is not seen

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str) -> "ExplicitParams":
        known = {f.name for f in fields(cls)}
        if set(data) - known:
            raise ConfigError(f"{source}: unknown explicit-brain params {sorted(set(data) - known)}; allowed: {sorted(known)}")
        return cls(**data)


def red_mask_row(rgb_row: np.ndarray) -> np.ndarray:
    """Boolean mask of red-line pixels in one image row (rgb, robust to lighting changes)."""
    r, g, b = (rgb_row[:, i].astype(np.int16) for i in range(3))
    return (r > 100) & (r > 2 * g) & (r > 2 * b)


def line_error(image: np.ndarray, row: int, band: int = 3) -> float | None:
    """Line centre offset in [-1, 1] (positive: right of the image centre) at ``row``, None if unseen."""
    xs = np.flatnonzero(np.any([red_mask_row(image[r]) for r in range(row - band, row + band + 1)], axis=0))
    if xs.size == 0:
        return None
    return float((xs.mean() - WIDTH / 2) / (WIDTH / 2))


class ExplicitBrain:
    def __init__(self, params: ExplicitParams = ExplicitParams(), limits: Limits = Limits(), name: str = "explicit"):
        self.params, self.limits, self.name = params, limits, name
        self.first_inference_s, self.warmup = 0.0, 0
        self._last_error, self._last_w = 0.0, 0.0

    def rehearse(self, image: np.ndarray, encoding: str = "rgb8") -> None:
        """Nothing to warm: a few microseconds of OpenCV (the network brains' ``rehearse``)."""

    def step(self, image: np.ndarray, encoding: str = "rgb8") -> Decision:
        """Steer toward the red line; no line in sight: slow down and search. Raises BadImage."""
        t0 = time.perf_counter()
        if encoding not in ("rgb8", "bgr8"):
            raise BadImage(f"image encoding {encoding!r} is not supported (expected rgb8 or bgr8)")
        if image.shape != (HEIGHT, WIDTH, 3):
            raise BadImage(f"image is {image.shape}, the explicit brain expects ({HEIGHT}, {WIDTH}, 3)")
        if encoding == "bgr8":
            image = image[..., ::-1]
        p = self.params
        near, far = line_error(image, p.near_row), line_error(image, p.far_row)
        t1 = time.perf_counter()
        if near is None:
            v, w = p.lost_v, self._last_w          # keep turning the way we were, slowly
        else:
            w = -(p.kp * near + p.kd * (near - self._last_error))
            bend = abs(far - near) if far is not None else 1.0
            v = max(p.v_min, p.v_max - p.bend_gain * bend)
            self._last_error, self._last_w = near, w
        cv, cw = self.limits.clamp(v, w)
        t2 = time.perf_counter()
        return Decision(cv, cw, v, w, t1 - t0, t2 - t1, 0.0)

    def describe(self) -> dict[str, Any]:
        return {"brain": self.name, "backend": "explicit", "device": "cpu", "params": self.params.__dict__,
                "limits": self.limits.__dict__, "first_inference_ms": 0.0, "warmup": 0}
