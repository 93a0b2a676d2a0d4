"""The five named circuits: the real JdeRobot F1 worlds, measured from CustomRobots' meshes.

``circuit_data/<name>.json`` holds each circuit's red centre line in the Gazebo world frame (every
0.5 m, in the driving direction: clockwise from the spawn), the distance to the wall on either side,
the car's spawn pose from the ``.world`` and the red line's width. `f1-brains world-import` wrote them
from a CustomRobots checkout (credit and method: docs/simulator.md). BehaviorMetrics' world names
(``montreal_line``...) are accepted as aliases.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .measure import Marking
from .track import Spawn, Track, WorldLight, load_points_file

DATA_DIR = Path(__file__).with_name("circuit_data")
CIRCUITS = ("simple_circuit", "many_curves", "montreal", "montmelo", "nurburgring")
ALIASES = {"montreal_line": "montreal", "montmelo_line": "montmelo", "nurburgring_line": "nurburgring"}


def canonical(name: str) -> str:
    return ALIASES.get(name, name)


@lru_cache(maxsize=None)
def _data(name: str) -> dict:
    path = DATA_DIR / f"{name}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"circuit data {path} cannot be read: {e} (reinstall the package)") from None


def track_from_data(name: str, data: dict) -> Track:
    """A Track from a circuit's measured data (a circuit_data file, or a .world measured at load)."""
    rows = np.asarray(data["points"], dtype=np.float64)
    walls = rows[:, 2:4]
    walled = not np.isnan(walls).any()           # a world without collision meshes has no walls
    light = data["light"]
    return Track(name, rows[:, :2], walls=walls if walled else None, walled=walled, spawn=Spawn(**data["spawn"]),
                 red_line_width=data["red_line_width_m"], ground_z=data["red_line_z_m"],
                 light=WorldLight(tuple(light["ambient"]), tuple(light["sun_direction"]) if light["sun_direction"]
                                  else None, tuple(light["wall_colour"])),
                 markings=tuple(Marking(tuple(m["rgb"]), m["z_m"], np.array(m["triangles"]).reshape(-1, 3, 2))
                                for m in data["markings"]))


def named(name: str) -> Track:
    name = canonical(name)
    if name not in CIRCUITS:
        raise ConfigError(f"unknown circuit {name!r}; known: {', '.join(CIRCUITS)} (BehaviorMetrics' "
                          f"{', '.join(ALIASES)} too), or a points file")
    return track_from_data(name, _data(name))


def from_world(path: str | Path) -> Track:
    """The circuit of a CustomRobots ``.world`` file, measured from its meshes where the user has them, exactly
    as `f1-brains world-import` measures the built-in ones."""
    from .import_circuits import circuit_data
    path = Path(path)
    return track_from_data(path.stem, circuit_data(path.stem, path))


def load(circuit: str, road_width: float | None = None, walled: bool | None = None) -> Track:
    """A named circuit, a CustomRobots ``.world`` file, or the path of a points file (whose road width and
    walls the caller may set). Raises ConfigError naming the circuit or file when it cannot be read."""
    if canonical(circuit) in CIRCUITS:
        return named(circuit)
    if Path(circuit).suffix == ".world":
        return from_world(circuit)
    if Path(circuit).suffix or "/" in circuit:
        return load_points_file(circuit, road_width=road_width, walled=walled)
    return named(circuit)   # raises the unknown-name error listing the known ones
