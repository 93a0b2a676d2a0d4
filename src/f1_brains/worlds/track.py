"""Closed circuits: a smooth centre line resampled by arc length, with exact projection onto it.

A track is given by control points (named circuits in circuits.py, measured from the real worlds, or a
user's points file: "x y" in metres per line, the loop closing from the last point back to the first),
optionally with the distance from each point to the wall on its left and right. A periodic Catmull-Rom
spline through them is resampled every ``SPACING`` metres. Malformed input (too few points, an open
path, a line that crosses or runs into itself) is refused with a one-line reason.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .measure import Marking

SPACING = 0.5            # metres between resampled centre-line points
ROAD_WIDTH = 3.0         # m between the walls, as on the real circuits (2.4-3.3 m)
MAX_COORDINATE = 1e5   # m: beyond this a file is not in metres (or not a circuit)
MIN_SPAN = 5.0         # m: the smallest extent a drivable circuit can have
MIN_POINTS = 4
SAMPLES_PER_SEGMENT = 40


def catmull_rom_closed(points: np.ndarray, samples_per_segment: int = SAMPLES_PER_SEGMENT) -> np.ndarray:
    """A dense closed curve through ``points`` (centripetal-free uniform Catmull-Rom)."""
    p = np.asarray(points, dtype=np.float64)
    p0, p1, p2, p3 = np.roll(p, 1, 0), p, np.roll(p, -1, 0), np.roll(p, -2, 0)
    t = np.linspace(0, 1, samples_per_segment, endpoint=False)[:, None, None]
    curve = 0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t ** 2
                   + (-p0 + 3 * p1 - 3 * p2 + p3) * t ** 3)
    return curve.transpose(1, 0, 2).reshape(-1, 2)


def arc_lengths(curve: np.ndarray) -> np.ndarray:
    """Arc length at each point of a closed polyline, and the total as the last entry."""
    closed = np.vstack([curve, curve[:1]])
    return np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(closed, axis=0).T))])


def resample_closed(curve: np.ndarray, spacing: float) -> np.ndarray:
    """Points every ``spacing`` metres (the last step adjusted) along a closed polyline."""
    closed = np.vstack([curve, curve[:1]])
    s = arc_lengths(curve)
    n = max(int(round(s[-1] / spacing)), MIN_POINTS)
    targets = np.linspace(0, s[-1], n, endpoint=False)
    return np.column_stack([np.interp(targets, s, closed[:, 0]), np.interp(targets, s, closed[:, 1])])


@dataclass(frozen=True)
class Projection:
    s: float          # arc length of the closest point on the centre line (m, 0 <= s < length)
    offset: float     # signed distance to the line (m): positive to the left of the driving direction
    heading: float    # direction of the line at that point (rad)


@dataclass(frozen=True)
class Spawn:
    """Where the car starts, as a Gazebo world places it (world frame)."""
    x: float
    y: float
    yaw: float


@dataclass(frozen=True)
class WorldLight:
    """A Gazebo world's fixed lighting, and the colour of its walls (RGB 0..1)."""
    ambient: tuple[float, float, float] = (1.0, 1.0, 1.0)
    sun_direction: tuple[float, float, float] | None = None
    wall_colour: tuple[float, float, float] = (0.92, 0.92, 0.92)


class Track:
    """A closed centre line in the driving direction, with the walls beside it.

    ``walls``: per control point, metres from the line to the wall face on its left and right (None: a
    road of ``width`` centred on the line, walled on both sides when ``walled``, else open ground).
    """

    def __init__(self, name: str, control_points: np.ndarray, width: float = ROAD_WIDTH,
                 walls: np.ndarray | None = None, walled: bool = True, spawn: Spawn | None = None,
                 red_line_width: float = 0.1, light: WorldLight = WorldLight(), ground_z: float = 0.0,
                 markings: tuple[Marking, ...] = ()) -> None:
        pts = np.asarray(control_points, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < MIN_POINTS:
            raise ConfigError(f"circuit {name!r}: needs at least {MIN_POINTS} (x, y) points, got {len(pts)}")
        if not np.all(np.isfinite(pts)):
            raise ConfigError(f"circuit {name!r}: points must be finite numbers")
        if np.abs(pts).max() > MAX_COORDINATE:
            raise ConfigError(f"circuit {name!r}: a point lies {np.abs(pts).max():.3g} m from the origin "
                              f"(at most {MAX_COORDINATE:.0f} m: points are in metres)")
        span = float(np.ptp(pts, axis=0).max())
        if span < MIN_SPAN:
            raise ConfigError(f"circuit {name!r}: its points span {span:.3g} m; a circuit spans at least {MIN_SPAN:.0f} m")
        self.name, self.spawn, self.red_line_width, self.light = name, spawn, red_line_width, light
        self.ground_z = ground_z      # height of the drawn road surface (the red line's), m
        self.markings = markings      # start lines, grid boxes on the road
        self.control_points = pts
        dense = catmull_rom_closed(pts)
        self.points = resample_closed(dense, SPACING)
        nxt = np.roll(self.points, -1, 0)
        self._seg = nxt - self.points
        self._seg_len = np.hypot(*self._seg.T)
        self.s = np.concatenate([[0.0], np.cumsum(self._seg_len)[:-1]])
        self.length = float(self._seg_len.sum())
        self.headings = np.arctan2(self._seg[:, 1], self._seg[:, 0])
        self.walled = walls is not None or walled
        if walls is None:
            self.walls = np.full((len(self.points), 2), width / 2)
        else:
            walls = np.asarray(walls, dtype=np.float64)
            if walls.shape != pts.shape or not np.all(np.isfinite(walls)) or walls.min() <= 0:
                raise ConfigError(f"circuit {name!r}: wall distances must be {len(pts)} pairs of positive numbers")
            control_s = arc_lengths(dense)[::SAMPLES_PER_SEGMENT][:len(pts)] * (self.length / arc_lengths(dense)[-1])
            self.walls = np.column_stack([np.interp(self.s, control_s, walls[:, k], period=self.length)
                                          for k in (0, 1)])
        self.width = float(np.median(self.walls.sum(1)))
        self._check_shape()

    # ---- geometry ----

    def curvature(self) -> np.ndarray:
        """Signed curvature (1/m) at each resampled point."""
        dh = np.angle(np.exp(1j * (np.roll(self.headings, -1) - self.headings)))
        return dh / self._seg_len

    def project(self, x: float, y: float) -> Projection:
        """Exact closest point on the centre-line polyline (not just the nearest sample)."""
        d = self.points - (x, y)
        i = int(np.argmin(np.einsum("ij,ij->i", d, d)))
        best = None
        for j in (i - 1, i):
            j %= len(self.points)
            a, seg, seg_len = self.points[j], self._seg[j], self._seg_len[j]
            t = float(np.clip(np.dot((x, y) - a, seg) / seg_len ** 2, 0.0, 1.0))
            foot = a + t * seg
            dist = float(np.hypot(*(np.array((x, y)) - foot)))
            if best is None or dist < best[0]:
                cross = seg[0] * (y - a[1]) - seg[1] * (x - a[0])
                best = (dist, (self.s[j] + t * seg_len) % self.length, dist if cross >= 0 else -dist,
                        float(self.headings[j]))
        _, s, offset, heading = best
        return Projection(s, offset, heading)

    def step_along(self, s_from: float, s_to: float) -> float:
        """Signed metres along the line from arc length ``s_from`` to ``s_to``, the short way round the loop."""
        return (s_to - s_from + self.length / 2) % self.length - self.length / 2

    def walls_at(self, s: float) -> tuple[float, float]:
        """Metres from the centre line to the left and right wall (or road edge) at arc length ``s``."""
        i = int(np.searchsorted(self.s, s % self.length, side="right") - 1)
        return float(self.walls[i, 0]), float(self.walls[i, 1])

    def pose_at(self, s: float) -> tuple[float, float, float]:
        """(x, y, heading) of the centre line at arc length ``s``."""
        s %= self.length
        i = int(np.searchsorted(self.s, s, side="right") - 1)
        t = (s - self.s[i]) / self._seg_len[i]
        x, y = self.points[i] + t * self._seg[i]
        return float(x), float(y), float(self.headings[i])

    def bounds(self, margin: float) -> tuple[float, float, float, float]:
        (x0, y0), (x1, y1) = self.points.min(0) - margin, self.points.max(0) + margin
        return float(x0), float(y0), float(x1), float(y1)

    # ---- validation ----

    def _check_shape(self) -> None:
        """Refuse curves that cross themselves or bring two road sections within a road width."""
        coarse = self.points[:: max(1, int(4.0 / SPACING))]
        n = len(coarse)
        d = np.hypot(*(coarse[:, None, :] - coarse[None, :, :]).transpose(2, 0, 1))
        arc = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :]) * self.length / n
        arc = np.minimum(arc, self.length - arc)
        width = self.width     # 0 for reference lines (e.g. a recorded lap): no check
        close = (d < width * 1.25) & (arc > width * 3)
        if close.any():
            i, j = np.argwhere(close)[0]
            what = "crosses itself" if d[i, j] < width * 0.25 else "runs into itself"
            raise ConfigError(f"circuit {self.name!r}: the centre line {what} near ({coarse[i][0]:.1f}, "
                              f"{coarse[i][1]:.1f}) m: road sections closer than {width * 1.25:.1f} m")


def _directive(line: str) -> tuple[str, str] | None:
    """``# road_width: 3.5`` or ``# walls: no`` in a points file's comments."""
    key, sep, value = line.lstrip("#").partition(":")
    key = key.strip().lower()
    if not sep or key not in ("road_width", "walls"):
        return None
    return key, value.strip().lower()


def load_points_file(path: str | Path, road_width: float | None = None, walled: bool | None = None) -> Track:
    """A circuit from a file of centre-line points, "x y" (or "x,y") in metres per line; # comments.

    The road is ``ROAD_WIDTH`` between walls unless the file says otherwise (``# road_width: 4.0``,
    ``# walls: no``) or the caller does (``road_width``, ``walled``, which win over the file).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"circuit file {path} does not exist")
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise ConfigError(f"circuit file {path}: not a text file of 'x y' points") from None
    rows = []
    settings: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip().startswith("#"):
            found = _directive(line.strip())
            if found:
                settings[found[0]] = found[1]
        line = line.split("#")[0].replace(",", " ").strip()
        if not line:
            continue
        try:
            x, y = (float(v) for v in line.split())
        except ValueError:
            raise ConfigError(f"circuit file {path}:{number}: expected two numbers 'x y', got {line!r}") from None
        rows.append((x, y))
    if road_width is None:
        try:
            road_width = float(settings.get("road_width", ROAD_WIDTH))
        except ValueError:
            raise ConfigError(f"circuit file {path}: road_width {settings['road_width']!r} is not a number") from None
    if not (np.isfinite(road_width) and 0.5 <= road_width <= 50):
        raise ConfigError(f"circuit file {path}: road width {road_width} m is outside 0.5-50 m")
    if walled is None:
        if settings.get("walls", "yes") not in ("yes", "no", "true", "false"):
            raise ConfigError(f"circuit file {path}: walls must be yes or no, not {settings['walls']!r}")
        walled = settings.get("walls", "yes") in ("yes", "true")
    pts = np.array(rows, dtype=np.float64).reshape(-1, 2)
    if len(pts) >= 2 and np.hypot(*(pts[0] - pts[-1])) < 1e-9:
        pts = pts[:-1]            # an explicitly repeated first point closes the loop too
    if len(pts) >= MIN_POINTS:
        gaps = np.hypot(*np.diff(np.vstack([pts, pts[:1]]), axis=0).T)
        if gaps[-1] > 5 * np.median(gaps[:-1]) and gaps[-1] > 3 * road_width:
            raise ConfigError(f"circuit file {path}: not a closed loop: the last point is {gaps[-1]:.0f} m from "
                              f"the first (typical spacing {np.median(gaps[:-1]):.1f} m)")
    return Track(path.stem, pts, width=road_width, walled=walled)
