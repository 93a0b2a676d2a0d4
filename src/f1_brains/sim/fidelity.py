"""`f1-brains fidelity`: how close the built-in worlds are to CustomRobots' real meshes, measured.

Per circuit, at ``poses`` points along the red line (seeded small lateral and heading offsets, as a
driving car has), the field renderer's image of our built-in circuit is compared with the real meshes'
render (pyrender) at the same pose: intersection over union of the red-line pixels and of the wall
pixels, and the horizon row (the highest ground pixel in the middle of the image). Walls and ground come
from each renderer's geometry (our wall drawing; the real render's depth buffer), the red line from colour. Also: the distance of
BehaviorMetrics' perfect-lap bags from our centre line, and the explicit brain's lap on the built-in
circuit and on the real meshes. Writes fidelity.md, fidelity.json and side-by-side pictures.
"""
from __future__ import annotations

import math
import platform
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..util.files import write_json_atomic
from ..util.tables import markdown_table
from ..worlds import circuits
from ..worlds.import_circuits import WORLD_FILES, worlds_dir
from . import offline
from .renderer import Renderer
from .simulation import RunLimits

BAG_NAMES = {"simple_circuit": "simple-circuit", "many_curves": "many-curves", "montreal": "montreal",
             "montmelo": "montmelo", "nurburgring": "nurburgring"}
PICTURE_POSES = 3
MIDDLE = slice(220, 420)       # columns where the horizon row is read


def red_mask(image: np.ndarray) -> np.ndarray:
    r, g, b = (image[..., i].astype(np.int16) for i in range(3))
    return (r > 120) & (g < 90) & (b < 90)


def horizon_row(ground: np.ndarray) -> int:
    """The highest row where the ground fills most of the middle columns."""
    rows = np.flatnonzero(ground[:, MIDDLE].mean(axis=1) > 0.5)
    return int(rows[0]) if rows.size else -1


def iou(a: np.ndarray, b: np.ndarray) -> float | None:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else None


def poses_along(track, n: int, seed: int) -> list[tuple[float, float, float]]:
    rng = np.random.default_rng(seed)
    poses = []
    for s in np.linspace(0, track.length, n, endpoint=False):
        x, y, heading = track.pose_at(float(s))
        offset, turn = rng.uniform(-0.3, 0.3), rng.uniform(-0.1, 0.1)
        poses.append((x - offset * math.sin(heading), y + offset * math.cos(heading), heading + turn))
    return poses


def compare_views(name: str, world: Path, poses: int, seed: int, pictures: Path | None) -> dict[str, Any]:
    from .mesh_renderer import MeshRenderer  # noqa: PLC0415
    track = circuits.named(name)
    ours, real = Renderer(track), MeshRenderer(world)
    red, walls, horizon = [], [], []
    tiles = []
    for i, pose in enumerate(poses_along(track, poses, seed)):
        a, b = ours.render(*pose), real.render(*pose)
        (walls_a, ground_a), (walls_b, ground_b) = ours.masks(), real.masks()
        red.append(iou(red_mask(a), red_mask(b)))
        walls.append(iou(walls_a, walls_b))
        horizon.append((horizon_row(ground_a), horizon_row(ground_b)))
        if pictures is not None and i % max(1, poses // PICTURE_POSES) == 0 and len(tiles) < PICTURE_POSES:
            tiles.append(np.hstack([cv2.resize(v, (320, 240), interpolation=cv2.INTER_AREA) for v in (a, b)]))
    real.close()
    picture = None
    if pictures is not None:
        pictures.mkdir(parents=True, exist_ok=True)
        picture = pictures / f"{name}.png"
        cv2.imwrite(str(picture), cv2.cvtColor(np.vstack(tiles), cv2.COLOR_RGB2BGR))
    rows = np.array(horizon, dtype=float)
    valid = lambda values: [v for v in values if v is not None]  # noqa: E731
    return {"poses": poses, "red_iou_mean": float(np.mean(valid(red))), "red_iou_min": float(np.min(valid(red))),
            "wall_iou_mean": float(np.mean(valid(walls))) if valid(walls) else None,
            "wall_iou_min": float(np.min(valid(walls))) if valid(walls) else None,
            "horizon_ours": float(np.median(rows[:, 0])), "horizon_real": float(np.median(rows[:, 1])),
            "picture": str(picture) if picture else None}


def bag_distance(name: str, points: np.ndarray) -> dict[str, float]:
    """How far BehaviorMetrics' perfect-lap odometry ``points`` lie from our centre line of ``name``."""
    track = circuits.named(name)
    d = np.array([abs(track.project(x, y).offset) for x, y in points])
    return {"median_m": float(np.median(d)), "p90_m": float(np.percentile(d, 90)), "max_m": float(d.max()),
            "samples": int(len(d))}


def explicit_lap(track, renderer) -> dict[str, Any]:
    from ..core.explicit import ExplicitBrain  # noqa: PLC0415
    t = time.perf_counter()
    sim = offline.drive(track, ExplicitBrain(), RunLimits(laps=1, timeout=track.length / 2.0), renderer=renderer)
    lap = sim.laps[0] if sim.laps else None
    return {"end_reason": sim.end_reason, "lap_time_s": lap.lap_time if lap else None,
            "mean_abs_offset_m": lap.mean_abs_offset if lap else None,
            "max_abs_offset_m": lap.max_abs_offset if lap else None, "wall_s": time.perf_counter() - t}


def fidelity(customrobots: str | Path, bags: dict[str, np.ndarray], out_dir: str | Path, poses: int = 50,
             seed: int = 0, names: list[str] | None = None, laps: bool = True) -> dict[str, Any]:
    """``bags``: circuit -> BehaviorMetrics' perfect-lap odometry points (x, y), where there is one."""
    from tqdm import tqdm  # noqa: PLC0415

    from .mesh_renderer import MeshRenderer  # noqa: PLC0415
    folder = worlds_dir(customrobots)
    out = Path(out_dir)
    result: dict[str, Any] = {"host": platform.node(), "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                              "customrobots": str(folder), "circuits": {}}
    for name in tqdm(names or list(WORLD_FILES), desc="fidelity", unit="circuit", file=sys.stderr):
        world = folder / WORLD_FILES[name]
        entry: dict[str, Any] = {"world": world.name, "views": compare_views(name, world, poses, seed, out)}
        entry["bag"] = bag_distance(name, bags[name]) if name in bags else None
        if laps:
            track = circuits.named(name)
            entry["explicit_builtin"] = explicit_lap(track, Renderer(track))
            mesh = MeshRenderer(world)
            entry["explicit_real_mesh"] = explicit_lap(circuits.load(str(world)), mesh)
            mesh.close()
        result["circuits"][name] = entry
    write_json_atomic(out / "fidelity.json", result)
    return result


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def markdown(result: dict[str, Any], command: str, pictures_rel: str = "fidelity") -> str:
    lines = [f"Measured with `{command}` on {result['host']}, {result['utc']}, against CustomRobots' worlds "
             f"(`{result['customrobots']}`).", "",
             "## Camera view: our built-in world against the real meshes at the same pose", "",
             "IoU of the red-line pixels and of the wall pixels between our field renderer (built-in circuit data) and "
             "pyrender drawing CustomRobots' meshes, over poses spread along the lap (seeded lateral offsets up to "
             "0.3 m and heading offsets up to 0.1 rad); horizon row = the highest ground row in the middle columns "
             "(median; walls and ground from each renderer's geometry). Goals: red IoU >= 0.9, wall IoU >= 0.85.", ""]
    runs = result["circuits"]

    def view_row(name: str, v: dict[str, Any]) -> list[Any]:
        return [name, v["poses"], f"{v['red_iou_mean']:.3f} ({v['red_iou_min']:.3f})",
                f"{_fmt(v['wall_iou_mean'], '.3f')} ({_fmt(v['wall_iou_min'], '.3f')})",
                f"{v['horizon_ours']:.0f} / {v['horizon_real']:.0f}"]

    def bag_row(name: str, b: dict[str, Any] | None) -> list[Any]:
        if not b:
            return [name, "no bag", "", "", ""]
        return [name, b["samples"], f"{b['median_m']:.3f}", f"{b['p90_m']:.3f}", f"{b['max_m']:.3f}"]

    def lap_row(name: str, label: str, r: dict[str, Any]) -> list[Any]:
        return [name, label, r["end_reason"], _fmt(r["lap_time_s"], ".1f"), _fmt(r["mean_abs_offset_m"], ".3f"),
                _fmt(r["max_abs_offset_m"], ".3f")]

    lines.append(markdown_table(["circuit", "poses", "red-line IoU mean (min)", "wall IoU mean (min)",
                                 "horizon row ours / real"], [view_row(n, c["views"]) for n, c in runs.items()]))
    lines += ["## BehaviorMetrics' perfect-lap bags against our centre lines", ""]
    lines.append(markdown_table(["circuit", "odometry samples", "median m", "p90 m", "max m"],
                                [bag_row(n, c.get("bag")) for n, c in runs.items()]))
    if any("explicit_builtin" in c for c in runs.values()):
        lines += ["## The explicit brain's lap (offline lockstep, 20 Hz camera)", ""]
        lines.append(markdown_table(
            ["circuit", "world", "end", "lap s", "mean abs offset m", "max abs offset m"],
            [lap_row(n, label, c[key]) for n, c in runs.items()
             for key, label in (("explicit_builtin", "built-in"), ("explicit_real_mesh", "real meshes"))]))
    lines += ["## Side by side (left: ours, right: the real meshes)", ""]
    for name in result["circuits"]:
        lines.append(f"![{name}]({pictures_rel}/{name}.png)")
    return "\n".join(lines) + "\n"
