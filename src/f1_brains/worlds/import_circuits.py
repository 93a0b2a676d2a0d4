"""`f1-brains world-import`: measure CustomRobots' five F1 worlds into the simulator's circuit data files.

One-off: the files it writes (``worlds/circuit_data/<name>.json``: centre line, wall distances, spawn pose,
red-line width, wall height) are committed; the meshes stay in the user's checkout.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..util.tables import markdown_table
from .gazebo_world import read_world
from .measure import measure

# built-in circuit -> the CustomRobots world it is measured from (BehaviorMetrics' world names)
WORLD_FILES = {"simple_circuit": "simple_circuit.world", "many_curves": "many_curves.world",
               "montreal": "montreal_line.world", "montmelo": "montmelo_line.world",
               "nurburgring": "nurburgring_line.world"}
SOURCE = "JdeRobot CustomRobots (MIT), branch noetic-devel, f1/worlds/{world} and its models"


def worlds_dir(checkout: str | Path) -> Path:
    """``f1/worlds`` of a CustomRobots checkout, given the checkout, its ``f1`` folder or ``worlds`` itself."""
    base = Path(checkout)
    for candidate in (base / "f1" / "worlds", base / "worlds", base):
        if (candidate / WORLD_FILES["simple_circuit"]).is_file():
            return candidate
    raise ConfigError(f"{base}: no CustomRobots F1 worlds here (looked for f1/worlds/simple_circuit.world)")


def circuit_data(name: str, world_path: Path) -> dict[str, Any]:
    """What the simulator needs of a world, as the circuit data files hold it (circuits.track_from_data)."""
    measured = measure(read_world(world_path))
    x, y, yaw = measured.spawn
    return {"name": name, "world": world_path.name, "source": SOURCE.format(world=world_path.name),
            "spawn": {"x": x, "y": y, "yaw": yaw},
            "red_line_width_m": round(measured.red_line_width, 3), "wall_height_m": round(measured.wall_height, 3),
            "red_line_z_m": round(measured.red_line_z, 4),
            "markings": [{"rgb": list(m.rgb), "z_m": m.z,
                          "triangles": [[round(float(v), 3) for v in t.ravel()] for t in m.triangles]}
                         for m in measured.markings],
            "light": {"ambient": [round(c, 3) for c in measured.ambient],
                      "sun_direction": [round(c, 4) for c in measured.sun_direction] if measured.sun_direction else None,
                      "wall_colour": [round(c, 3) for c in measured.wall_colour]},
            "length_m": round(measured.red_length, 1),
            "wall_readings_filled": dict(zip(("left", "right"), measured.walls_filled)),
            "columns": ["x", "y", "wall_left_m", "wall_right_m"],
            "points": [[round(float(a), 3) for a in row]
                       for row in np.column_stack([measured.centre_line, measured.walls])]}


def import_circuits(checkout: str | Path, out_dir: str | Path, names: list[str] | None = None) -> list[dict]:
    folder = worlds_dir(checkout)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summaries = []
    for name in names or list(WORLD_FILES):
        if name not in WORLD_FILES:
            raise ConfigError(f"unknown circuit {name!r}; known: {', '.join(WORLD_FILES)}")
        data = circuit_data(name, folder / WORLD_FILES[name])
        (out / f"{name}.json").write_text(json.dumps(data, separators=(",", ":")) + "\n")
        walls = np.array(data["points"])[:, 2:]
        summaries.append({"circuit": name, "world": data["world"], "length_m": data["length_m"],
                          "points": len(data["points"]), "road_between_walls_m": float(np.median(walls.sum(1))),
                          "narrowest_m": float(walls.sum(1).min()), "red_line_width_m": data["red_line_width_m"],
                          "spawn": data["spawn"], "wall_readings_filled": data["wall_readings_filled"]})
    return summaries


def format_summaries(summaries: list[dict]) -> str:
    header = ["circuit", "world", "red line m", "road between walls m (median, narrowest)", "red line width m",
              "spawn x, y, yaw", "wall readings interpolated (seams)"]
    return markdown_table(header, [
        [s["circuit"], s["world"], f"{s['length_m']:.0f}", f"{s['road_between_walls_m']:.2f}, {s['narrowest_m']:.2f}",
         f"{s['red_line_width_m']:.3f}",
         f"{s['spawn']['x']:.3f}, {s['spawn']['y']:.3f}, {math.degrees(s['spawn']['yaw']):.0f} deg",
         f"{s['wall_readings_filled']['left']} left, {s['wall_readings_filled']['right']} right"]
        for s in summaries]).rstrip("\n")
