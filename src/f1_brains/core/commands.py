"""What every brain answers with: the speed limits it is held to and one frame's decision with its timings.

Shared by the network Brain (brain.py) and the explicit brain (explicit.py), so neither imports the other's
types; nothing here knows about ROS.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ConfigError


@dataclass(frozen=True)
class Limits:
    """Commands are clamped to min_v <= v <= max_v and |w| <= max_w. Raises ConfigError for limits that cannot
    be met (not finite numbers, min_v > max_v, max_w < 0): they would pin every command."""
    max_v: float = 24.0
    min_v: float = 0.0
    max_w: float = 7.1

    def __post_init__(self) -> None:
        for name in ("max_v", "min_v", "max_w"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ConfigError(f"limits: {name} must be a finite number, not {value!r}")
        if self.min_v > self.max_v:
            raise ConfigError(f"limits: min_v {self.min_v} is above max_v {self.max_v}")
        if self.max_w < 0:
            raise ConfigError(f"limits: max_w {self.max_w} is negative (it bounds |w|)")

    def clamp(self, v: float, w: float) -> tuple[float, float]:
        return min(max(v, self.min_v), self.max_v), min(max(w, -self.max_w), self.max_w)


@dataclass(frozen=True)
class Decision:
    """One frame's command and where its time went (seconds, perf_counter)."""
    v: float
    w: float
    unclamped_v: float    # what the brain asked for (m/s, rad/s), before Limits clamped it
    unclamped_w: float
    preprocess_s: float
    inference_s: float
    postprocess_s: float
