"""What the simulator needs, measured from a Gazebo F1 world: the red line, the walls, the spawn pose.

The red line is the strip of red-material triangles in the circuit's visual mesh, the walls are the
circuit's collision meshes. Both are rasterized top-down at ``GRID`` metres; the centre line is then
followed from the point nearest the car's spawn, in the direction the car faces (the circuits' driving
direction), and the walls are found by looking left and right of each centre-line point.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import ConfigError
from .collada import MeshPart, read_triangles
from .gazebo_world import SUN_DIFFUSE, GazeboWorld, PlacedMesh

GRID = 0.04            # m per raster cell
STEP = 0.5             # m between centre-line points
WALL_SEARCH = 8.0      # m: no wall within this distance of the line means "no wall" on that side
MIN_WALL_HEIGHT = 0.1  # m: collision triangles rising less than this are floor, not wall


def is_red(part: MeshPart) -> bool:
    """The red line's material: saturated red (the kerbs' darker red, 0.5 0 0, is not the line)."""
    c = part.material.colour
    return c is not None and c[0] > 0.8 and c[1] < 0.25 and c[2] < 0.25


def placed_triangles(mesh: PlacedMesh) -> list[MeshPart]:
    if mesh.path.suffix.lower() != ".dae":
        from .obj import read_obj_triangles  # noqa: PLC0415 (OBJ only where a world uses it)
        parts = read_obj_triangles(mesh.path)
    else:
        parts = read_triangles(mesh.path)
    for part in parts:
        flat = part.triangles.reshape(-1, 3)
        part.triangles = (flat @ mesh.transform[:3, :3].T + mesh.transform[:3, 3]).reshape(-1, 3, 3)
    return parts


@dataclass
class Raster:
    """A top-down boolean grid over the world: cell (row, col) covers x0 + col*GRID, y1 - row*GRID."""
    mask: np.ndarray
    x0: float
    y1: float

    @classmethod
    def of(cls, triangles: np.ndarray, bounds: tuple[float, float, float, float], outline: bool) -> "Raster":
        x0, y0, x1, y1 = bounds
        mask = np.zeros((int((y1 - y0) / GRID) + 2, int((x1 - x0) / GRID) + 2), np.uint8)
        px = np.round(np.stack([(triangles[..., 0] - x0) / GRID, (y1 - triangles[..., 1]) / GRID], -1) * 16)
        px = px.astype(np.int32)
        cv2.fillPoly(mask, list(px), 1, cv2.LINE_8, shift=4)
        if outline:   # vertical faces project to slivers: draw their edges too
            cv2.polylines(mask, list(px), True, 1, 1, cv2.LINE_8, shift=4)
        return cls(mask.astype(bool), x0, y1)

    def at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        col = np.round((x - self.x0) / GRID).astype(np.int64)
        row = np.round((self.y1 - y) / GRID).astype(np.int64)
        inside = (row >= 0) & (row < self.mask.shape[0]) & (col >= 0) & (col < self.mask.shape[1])
        out = np.zeros(np.shape(x), bool)
        out[inside] = self.mask[row[inside], col[inside]]
        return out


def nearest_cell(raster: Raster, x: float, y: float) -> tuple[float, float]:
    rows, cols = np.nonzero(raster.mask)
    px, py = raster.x0 + cols * GRID, raster.y1 - rows * GRID
    i = int(np.argmin((px - x) ** 2 + (py - y) ** 2))
    return float(px[i]), float(py[i])


def follow_line(red: Raster, start: tuple[float, float], heading: float, max_length: float) -> np.ndarray:
    """Centre-line points every STEP metres along the red strip, from ``start`` in direction ``heading``."""
    offsets = np.arange(-0.4, 0.4 + 1e-9, GRID / 2)
    fan = np.radians(np.arange(-70, 70.5, 1.0))
    x, y = start
    points = []
    travelled = 0.0
    while travelled < max_length:
        # centre laterally on the strip
        nx, ny = -math.sin(heading), math.cos(heading)
        hits = red.at(x + offsets * nx, y + offsets * ny)
        if hits.any():
            shift = float(offsets[hits].mean())
            x, y = x + shift * nx, y + shift * ny
        points.append((x, y))
        if travelled > 20 and math.hypot(x - points[0][0], y - points[0][1]) < STEP * 1.5:
            return np.array(points[:-1] if math.hypot(x - points[0][0], y - points[0][1]) < STEP / 2 else points)
        for reach in (STEP, 1.0, 2.0, 3.0):    # look further ahead across gaps in the strip
            angles = heading + fan
            seen = red.at(x + reach * np.cos(angles), y + reach * np.sin(angles))
            if seen.any():
                a = angles[seen]
                heading = float(math.atan2(np.sin(a).mean(), np.cos(a).mean()))
                break
        else:
            raise ConfigError(f"the red line ends near ({x:.1f}, {y:.1f}) m after {travelled:.0f} m: no red "
                              f"triangles within 3 m ahead")
        x, y = x + STEP * math.cos(heading), y + STEP * math.sin(heading)
        travelled += STEP
    raise ConfigError(f"the red line does not close into a loop within {max_length:.0f} m of the spawn")


def normals(points: np.ndarray) -> np.ndarray:
    """Unit left normals of a closed line (central differences)."""
    seg = np.roll(points, -1, 0) - np.roll(points, 1, 0)
    return np.column_stack([-seg[:, 1], seg[:, 0]]) / np.hypot(*seg.T)[:, None]


def strip_across(points: np.ndarray, triangles: np.ndarray, reach: float = 0.4) -> tuple[np.ndarray, np.ndarray]:
    """Where the normal through each point crosses the red triangles, exactly: (lo, hi) offsets in metres
    (left positive; NaN where no triangle is crossed within ``reach``)."""
    normal = normals(points)
    tri = triangles[..., :2]
    area = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    keep = np.abs(area) > 1e-10
    tri = np.where((area[keep] < 0)[:, None, None], tri[keep][:, ::-1], tri[keep])   # counter-clockwise
    lo_box, hi_box = tri.min(axis=1) - reach, tri.max(axis=1) + reach
    lo = np.full(len(points), np.nan)
    hi = np.full(len(points), np.nan)
    for chunk in np.array_split(np.arange(len(points)), max(1, len(points) // 64)):
        p, n = points[chunk], normal[chunk]
        near = np.all((p[:, None, :] >= lo_box[None]) & (p[:, None, :] <= hi_box[None]), axis=2)
        i, j = np.nonzero(near)
        if i.size == 0:
            continue
        t_lo, t_hi = np.full(i.size, -reach), np.full(i.size, reach)
        for k in range(3):           # inside edge a->b: cross(b - a, x - a) >= 0, x = p + t n
            a, b = tri[j, k], tri[j, (k + 1) % 3]
            e = b - a
            alpha = e[:, 0] * (p[i, 1] - a[:, 1]) - e[:, 1] * (p[i, 0] - a[:, 0])
            beta = e[:, 0] * n[i, 1] - e[:, 1] * n[i, 0]
            with np.errstate(divide="ignore", invalid="ignore"):
                bound = -alpha / beta
            t_lo = np.where(beta > 0, np.maximum(t_lo, bound), t_lo)
            t_hi = np.where(beta < 0, np.minimum(t_hi, bound), t_hi)
            t_hi = np.where((beta == 0) & (alpha < 0), -np.inf, t_hi)
        hit = t_lo <= t_hi
        rows = chunk[i[hit]]
        np.fmin.at(lo, rows, t_lo[hit])
        np.fmax.at(hi, rows, t_hi[hit])
    return lo, hi


def centre_on_strip(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Each point moved across to the middle of the red strip, measured on the triangles themselves."""
    lo, hi = strip_across(points, triangles)
    shift = np.where(np.isfinite(lo) & np.isfinite(hi), (lo + hi) / 2, 0.0)
    return points + shift[:, None] * normals(points)


def smooth_closed(points: np.ndarray, half_window: int = 4) -> np.ndarray:
    """Savitzky-Golay smoothing (quadratic, 2 * half_window + 1 points) around a closed line: removes the
    raster's centimetre jitter without pulling bends inwards (exact for any quadratic piece)."""
    m = half_window
    i = np.arange(-m, m + 1)
    weights = 3 * (3 * m * m + 3 * m - 1 - 5 * i ** 2) / ((2 * m - 1) * (2 * m + 1) * (2 * m + 3))
    index = (np.arange(len(points))[:, None] + i[None, :]) % len(points)
    return np.einsum("nkd,k->nd", points[index], weights)


def wall_distances(walls: Raster, points: np.ndarray) -> np.ndarray:
    """(n, 2): distance from each centre-line point to the first wall on its left and right (NaN: none)."""
    normal = normals(points)
    steps = np.arange(GRID, WALL_SEARCH, GRID / 2)
    out = np.full((len(points), 2), np.nan)
    for side, sign in enumerate((1.0, -1.0)):
        xs = points[:, :1] + sign * normal[:, :1] * steps
        ys = points[:, 1:] + sign * normal[:, 1:] * steps
        hit = walls.at(xs, ys)
        first = hit.argmax(axis=1)
        found = hit[np.arange(len(points)), first]
        out[found, side] = steps[first[found]]
    return _drop_outliers(out)


def _drop_outliers(distances: np.ndarray, window: int = 7, tolerance: float = 0.3) -> np.ndarray:
    """Single readings far from their neighbours' median (a ray through a seam in the mesh) become NaN."""
    n = len(distances)
    index = (np.arange(n)[:, None] + np.arange(-(window // 2), window // 2 + 1)[None, :]) % n
    with np.errstate(all="ignore"):
        median = np.nanmedian(distances[index], axis=1)
    out = distances.copy()
    out[np.abs(distances - median) > tolerance] = np.nan
    return out


MAX_MARKING_HEIGHT = 0.02   # m: lower than this and within the walls, a coloured shape is a road marking


@dataclass
class Marking:
    """Flat shapes of one colour on the road (start line, grid boxes): lit RGB 0..255, height, (n, 3, 2) m."""
    rgb: tuple[int, int, int]
    z: float
    triangles: np.ndarray


def road_markings(parts: list[MeshPart], line: np.ndarray, walls: np.ndarray, light: float,
                  red_width: float) -> list[Marking]:
    """Untextured, coloured, flat, non-red triangles whose centre lies between the walls, grouped by colour
    and height; their colour lit as Gazebo lights a floor (saturating). Shapes centred on the red line itself
    (SketchUp's copies of the line in another material, which the red one hides) are left out."""
    groups: dict[tuple, list[np.ndarray]] = {}
    for part in parts:
        colour = part.material.colour
        if part.material.texture is not None or colour is None or is_red(part):
            continue
        tris = part.triangles[part.triangles[..., 2].max(axis=1) < MAX_MARKING_HEIGHT]   # on the ground
        if not len(tris):
            continue
        centres = tris.mean(axis=1)[:, :2]
        nearest = np.concatenate([np.argmin(((c[:, None, :] - line[None]) ** 2).sum(-1), axis=1)
                                  for c in np.array_split(centres, max(1, len(centres) // 256))])
        offset = np.einsum("ij,ij->i", centres - line[nearest], normals(line)[nearest])
        inside = (offset < np.nan_to_num(walls[nearest, 0], nan=1.5)) & (-offset < np.nan_to_num(walls[nearest, 1], nan=1.5))
        inside &= np.abs(offset) > red_width
        if inside.any():
            rgb = tuple(int(round(min(1.0, c * light) * 255)) for c in colour[:3])
            z = round(float(np.median(tris[inside][..., 2])), 4)
            groups.setdefault((rgb, z), []).append(tris[inside][..., :2])
    return [Marking(rgb, z, np.concatenate(t)) for (rgb, z), t in sorted(groups.items(), key=lambda g: g[0][1])]


@dataclass
class MeasuredCircuit:
    centre_line: np.ndarray        # (n, 2) m, driving direction
    walls: np.ndarray              # (n, 2) m to the left / right wall face (seams filled), NaN where none
    walls_filled: tuple[int, int]  # readings through a seam of the wall mesh, filled from their neighbours
    spawn: tuple[float, float, float]
    red_line_width: float
    wall_height: float
    red_length: float
    wall_colour: tuple[float, float, float]          # the walls' material, RGB 0..1 (area-weighted)
    ambient: tuple[float, float, float]              # the world's scene ambient light
    sun_direction: tuple[float, float, float] | None  # where the sun's light travels
    red_line_z: float                                # height of the red line's surface (m)
    markings: list[Marking]                          # start lines, grid boxes: flat coloured shapes on the road


def wall_colour(parts: list[MeshPart]) -> tuple[float, float, float]:
    """Area-weighted diffuse colour of the wall meshes' visual materials (white where none is given, as
    Gazebo draws an uncoloured material)."""
    total, weight = np.zeros(3), 0.0
    for part in parts:
        t = part.triangles
        area = float(0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1).sum())
        colour = part.material.colour[:3] if part.material.colour else (1.0, 1.0, 1.0)
        total, weight = total + area * np.array(colour), weight + area
    return tuple(float(c) for c in total / weight) if weight else (1.0, 1.0, 1.0)


def fill_gaps(values: np.ndarray) -> tuple[np.ndarray, int]:
    """NaNs (a ray through a seam of the wall mesh) interpolated from their neighbours around the loop; with their
    count. All NaN (no walls) stays NaN."""
    values = values.copy()
    missing = np.isnan(values)
    if missing.all():
        return values, int(missing.sum())
    index = np.arange(len(values))
    values[missing] = np.interp(index[missing], index[~missing], values[~missing], period=len(values))
    return values, int(missing.sum())


def measure(world: GazeboWorld) -> MeasuredCircuit:
    parts = {id(m): placed_triangles(m) for m in world.meshes}        # every mesh file read once
    visual = [p for m in world.meshes if m.role == "visual" for p in parts[id(m)]]
    red = [p.triangles for p in visual if is_red(p)]
    if not red:
        raise ConfigError(f"world {world.path}: no red-material triangles in its meshes "
                          f"({', '.join(sorted({m.path.name for m in world.meshes if m.role == 'visual'}))})")
    red_tris = np.concatenate(red)
    walls = [p.triangles for m in world.meshes if m.role == "collision" for p in parts[id(m)]]
    wall_files = {m.path for m in world.meshes if m.role == "collision"}
    sun_z = -world.sun_direction[2] if world.sun_direction else 0.0
    floor_light = float(np.mean(world.ambient)) + SUN_DIFFUSE * max(0.0, sun_z)
    wall_look = wall_colour([p for m in world.meshes if m.role == "visual" and m.path in wall_files
                             for p in parts[id(m)] if np.ptp(p.triangles[..., 2]) >= MIN_WALL_HEIGHT])
    wall_tris = np.concatenate(walls) if walls else np.zeros((0, 3, 3))
    wall_tris = wall_tris[np.ptp(wall_tris[..., 2], axis=1) >= MIN_WALL_HEIGHT] if len(wall_tris) else wall_tris
    everything = np.concatenate([red_tris, wall_tris]) if len(wall_tris) else red_tris
    lo, hi = everything[..., :2].reshape(-1, 2).min(0) - 1, everything[..., :2].reshape(-1, 2).max(0) + 1
    bounds = (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))
    red_raster = Raster.of(red_tris, bounds, outline=False)
    spawn = world.spawn
    start = nearest_cell(red_raster, spawn.x, spawn.y)
    line = follow_line(red_raster, start, spawn.yaw, max_length=4 * float(np.sum(hi - lo)))
    line = smooth_closed(centre_on_strip(centre_on_strip(line, red_tris), red_tris), half_window=2)
    wall_d = (wall_distances(Raster.of(wall_tris, bounds, outline=True), line) if len(wall_tris)
              else np.full((len(line), 2), np.nan))
    # SketchUp exports some surfaces twice (front and back face): count one side's area only
    area = 0.5 * np.cross(red_tris[:, 1, :2] - red_tris[:, 0, :2], red_tris[:, 2, :2] - red_tris[:, 0, :2])
    area = max(area[area > 0].sum(), -area[area < 0].sum())
    length = float(np.hypot(*np.diff(np.vstack([line, line[:1]]), axis=0).T).sum())
    height = float(np.median(np.ptp(wall_tris[..., 2], axis=1))) if len(wall_tris) else 0.0
    (left, filled_left), (right, filled_right) = fill_gaps(wall_d[:, 0]), fill_gaps(wall_d[:, 1])
    return MeasuredCircuit(line, np.column_stack([left, right]), (filled_left, filled_right),
                           (spawn.x, spawn.y, spawn.yaw), float(area / length), height, length,
                           wall_look, tuple(world.ambient), world.sun_direction, float(np.median(red_tris[..., 2])),
                           road_markings(visual, line, wall_d, floor_light, float(area / length)))
