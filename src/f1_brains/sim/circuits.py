"""The five named circuits (own data): control points whose shape carries each circuit's character.

Shapes are drawn here, not copied: simple_circuit is a rounded loop with two long straights;
many_curves strings together bends of both directions; montreal is long and narrow with long
straights, a hairpin and chicanes; montmelo has a long main straight and a mix of medium corners;
nurburgring is compact and twisty. Each is scaled to a lap length chosen so that the explicit brain
laps them in roughly BehaviorMetrics' reference times (75, 151, 248, 122, 88 s; see docs/).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .track import Track, load_points_file

# name -> (control points in arbitrary units, target lap length in metres)
CIRCUITS: dict[str, tuple[list[tuple[float, float]], float]] = {
    "simple_circuit": ([(0, 0), (60, 0), (120, 0), (160, 15), (175, 55), (150, 90), (100, 95), (60, 80),
                        (30, 100), (-10, 100), (-40, 75), (-40, 30)], 675.0),
    "many_curves": ([(0, 0), (50, -10), (90, 10), (110, 50), (150, 60), (180, 30), (220, 20), (250, 50),
                     (240, 100), (200, 120), (170, 150), (120, 160), (90, 130), (60, 150), (20, 140),
                     (-10, 110), (10, 70), (-20, 40)], 1315.0),
    "montreal": ([(0, 0), (120, 0), (240, 0), (330, 5), (350, 25), (330, 45), (290, 40), (260, 60),
                  (200, 62), (150, 55), (120, 70), (80, 65), (20, 60), (-30, 55), (-60, 40), (-55, 15)], 2385.0),
    "montmelo": ([(0, 0), (90, 0), (180, 0), (215, 25), (205, 65), (170, 80), (150, 115), (110, 120),
                  (80, 95), (50, 110), (15, 100), (-15, 70), (-35, 35), (-25, 8)], 1105.0),
    "nurburgring": ([(0, 0), (70, -5), (110, 15), (115, 55), (85, 70), (70, 100), (35, 110), (10, 85),
                     (-20, 95), (-45, 70), (-35, 35), (-30, 10)], 757.0),
}


def named(name: str) -> Track:
    if name not in CIRCUITS:
        raise ConfigError(f"unknown circuit {name!r}; known: {', '.join(CIRCUITS)} (or a points file)")
    points, length = CIRCUITS[name]
    raw = Track(name, np.array(points, dtype=np.float64), width=0.0)   # unscaled, only to measure it
    return Track(name, np.array(points, dtype=np.float64) * (length / raw.length))


def load(circuit: str) -> Track:
    """A named circuit, or the path of a points file."""
    if circuit in CIRCUITS:
        return named(circuit)
    if Path(circuit).suffix or "/" in circuit:
        return load_points_file(circuit)
    return named(circuit)   # raises the unknown-name error listing the known ones
