"""Stress conditions as data: the ``family:level`` names, their ranges, and their order from mild to harsh. The
simulator applies them (sim/conditions.py, with the table of what each does); results rank brains by them
(results/robustness.py).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError

FAMILIES: dict[str, tuple[float, float, str]] = {   # family: (lowest level, highest level, unit)
    "noise": (1.0, 64.0, "sigma, 8-bit levels"),
    "blur": (0.5, 8.0, "sigma, pixels"),
    "jpeg": (5.0, 95.0, "quality"),
    "dim": (0.1, 0.95, "brightness factor"),
    "drop": (0.05, 0.9, "probability a frame is lost"),
    "latency": (10.0, 500.0, "ms more before a command takes effect"),
    "speed": (1.05, 3.0, "times the commanded speed the car drives at, its turn rate as commanded"),
    "yaw": (0.5, 45.0, "degrees the camera is turned left on its mount"),
    "pitch": (0.5, 25.0, "degrees the camera is tilted down on its mount"),
    "height": (0.5, 10.0, "cm the camera is raised on its mount"),
    "sun": (5.0, 180.0, "degrees the sun is turned about the vertical"),
}
EASIER_HIGH = {"jpeg", "dim"}   # families whose larger levels are the milder ones (quality, brightness)


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

    @property
    def strength(self) -> tuple[bool, str, float]:
        """Sorts conditions by family (none first), then from mild to harsh."""
        return self.family != "none", self.family, -self.level if self.family in EASIER_HIGH else self.level
