"""Camera images of the F1 world as the car's ``cam_f1_left`` sees it: road, red line, walls, grass, sky.

The camera is CustomRobots' ``f1_renault`` one: 0.45 m ahead of the car, 0.04 m left, 0.104 m above the
ground, level, 90 degrees wide, 640x480, clip 0.1-15 m.

The circuit is turned once into coarse fields over the ground (every ``FIELD_RES`` m): the room left to
the left and to the right wall (negative beyond it) and a world-fixed grain, which vary smoothly and are
sampled bilinearly; and, per cell, the red line's tangent at the cell's nearest point as a linear function
of position, which gives the signed distance to the line to a millimetre anywhere in the cell (OpenCV's bilinear sampling works
in 1/32 cell steps, too coarse for a 0.1 m line seen from 0.1 m above it). For a level pinhole camera
every pixel below the horizon looks at a fixed ground point in the car's frame, so a frame is one affine
map of those points and two ``cv2.remap``; colours follow from the distances (the red line anti-aliased
by the pixel's footprint). Walls are found per image column as the nearest ground point beyond a wall
and drawn from that depth up to their height. Deterministic for a given pose, circuit and appearance.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import ConfigError
from ..worlds.gazebo_world import SUN_DIFFUSE
from ..worlds.track import Track

WIDTH, HEIGHT = 640, 480
HFOV = 1.57                   # rad (model.sdf horizontal_fov)
CAMERA_FORWARD = 0.45         # m ahead of the car's origin (model.sdf sensor pose)
CAMERA_LEFT = 0.04            # m to the left
CAMERA_HEIGHT = 0.104         # m above the ground: 0.10 in the link + the spawn's 0.004
FAR_CLIP = 15.0               # m; nothing farther is drawn (Gazebo's clip), the sky shows instead
NEAR_CLIP = 0.1               # m
WALL_HEIGHT = 0.5             # m, every CustomRobots circuit
FIELD_RES = 0.2               # m per field cell
OUTSIDE = 1e3                 # field value far from the road: no line, beyond every wall
MAX_FIELD_CELLS = 60e6        # refuse circuits whose field would not fit in memory
SHADES = 64                   # levels of red-line coverage in the colour table


@dataclass(frozen=True)
class Rig:
    """What the stress conditions change in how a world is drawn, beyond the car's pose: the camera's height above
    the ground (``height``), its tilt (``pitch``) and the sun turned about the vertical (``sun``); the defaults are
    the real car and world."""
    camera_height: float = CAMERA_HEIGHT   # m
    sun_turn: float = 0.0                  # rad, counter-clockwise seen from above
    camera_pitch: float = 0.0              # rad, the camera tilted down about its optical centre

    def sun(self, direction: tuple[float, float, float] | None) -> np.ndarray | None:
        """A world's sun direction (x, y, z, the way its light travels) turned by ``sun_turn``."""
        if direction is None:
            return None
        c, s = math.cos(self.sun_turn), math.sin(self.sun_turn)
        x, y, z = direction
        return np.array([c * x - s * y, s * x + c * y, z])


@dataclass(frozen=True)
class Appearance:
    """Colours (RGB) and lighting; ``varied(seed)`` perturbs them for training robustness.

    Defaults: the mean colours of CustomRobots' textures and materials (Asphalt_New.jpg, Grass_Light_Green.jpg,
    the red line's 1 0 0 diffuse). The walls take the world's own colour and lighting (Track.light), scaled by
    ``wall_brightness``."""
    asphalt: tuple[int, int, int] = (66, 61, 62)
    grass: tuple[int, int, int] = (138, 159, 69)
    red_line: tuple[int, int, int] = (250, 10, 10)
    wall_brightness: float = 1.0
    sky_top: tuple[int, int, int] = (120, 160, 215)
    sky_horizon: tuple[int, int, int] = (200, 215, 235)
    brightness: float = 1.0
    texture_noise: float = 8.0
    seed: int = 0

    @classmethod
    def varied(cls, seed: int) -> "Appearance":
        """Lighting, surface tones and a slight tint vary; asphalt stays grey and grass stays green."""
        rng = np.random.default_rng(seed)

        def jitter(colour: tuple[int, int, int], shade: float, tint: float) -> tuple[int, int, int]:
            common = rng.normal(0, shade)   # same shift on every channel: lighter or darker, not another hue
            return tuple(int(np.clip(c + common + rng.normal(0, tint), 0, 255)) for c in colour)

        base = cls()
        return cls(asphalt=jitter(base.asphalt, 15, 4), grass=jitter(base.grass, 15, 8),
                   red_line=jitter(base.red_line, 10, 6), wall_brightness=float(rng.uniform(0.75, 1.1)),
                   sky_top=jitter(base.sky_top, 20, 8), sky_horizon=jitter(base.sky_horizon, 15, 6),
                   brightness=float(rng.uniform(0.7, 1.25)), texture_noise=float(rng.uniform(3, 14)), seed=seed)


def _clip_near(polygon: np.ndarray, near: float) -> np.ndarray:
    """The part of a polygon (rows: depth ahead of the camera, then any coordinates interpolated with it) at least
    ``near`` ahead of the camera (Sutherland-Hodgman)."""
    out = []
    for a, b in zip(polygon, np.roll(polygon, -1, axis=0)):
        if a[0] >= near:
            out.append(a)
        if (a[0] >= near) != (b[0] >= near):
            out.append(a + (b - a) * (near - a[0]) / (b[0] - a[0]))
    return np.array(out).reshape(-1, polygon.shape[1])


def project(depth: np.ndarray, left: np.ndarray, rise: np.ndarray) -> np.ndarray:
    """Points ``depth`` m ahead along the camera's axis, ``left`` of it and ``rise`` above it, as cv2 fixed-point
    pixel coordinates (1/16 px, int32), any leading shape."""
    f = camera_matrix()[0, 0]
    uv = np.stack([WIDTH / 2 - f * left / depth, HEIGHT / 2 - f * rise / depth], -1)
    return np.round(uv * 16).clip(-1e6, 1e6).astype(np.int32)


def camera_matrix() -> np.ndarray:
    f = (WIDTH / 2) / math.tan(HFOV / 2)
    return np.array([[f, 0, WIDTH / 2], [0, f, HEIGHT / 2], [0, 0, 1]])


@dataclass
class GroundField:
    """The circuit over a grid of FIELD_RES cells; cell (row, col) is centred on (x0 + col * res, y1 - row * res).

    ``smooth``: room to the left wall, to the right wall (m, negative beyond it), grain; bilinear.
    ``line``: a, gu, gv with the signed distance to the red line (m, left positive) = a + gu * col + gv * row
    for any fractional (col, row) in the cell: the line's tangent at the cell centre's nearest point, within
    a millimetre of the true distance near the line even in the tightest bends."""
    smooth: np.ndarray
    line: np.ndarray
    x0: float
    y1: float

    def offset_at_cells(self) -> np.ndarray:
        rows, cols = np.mgrid[: self.line.shape[0], : self.line.shape[1]]
        return self.line[..., 0] + self.line[..., 1] * cols + self.line[..., 2] * rows


def ground_field(track: Track, noise: float, seed: int) -> GroundField:
    reach = float(track.walls.max()) + 1.0
    x0, y0, x1, y1 = track.bounds(margin=reach + 1.0)
    cols, rows = int((x1 - x0) / FIELD_RES) + 2, int((y1 - y0) / FIELD_RES) + 2
    if rows * cols > MAX_FIELD_CELLS:
        raise ConfigError(f"circuit {track.name!r}: {x1 - x0:.0f} x {y1 - y0:.0f} m is too large to render "
                          f"(at most {MAX_FIELD_CELLS * FIELD_RES ** 2 / 1e6:.1f} km^2)")
    k = int(math.ceil(reach / FIELD_RES))
    dr, dc = (a.ravel() for a in np.mgrid[-k:k + 1, -k:k + 1])
    start, seg = track.points, np.roll(track.points, -1, 0) - track.points
    seg_len2 = np.maximum(np.einsum("ij,ij->i", seg, seg), 1e-12)
    r0 = np.round((y1 - start[:, 1]) / FIELD_RES).astype(np.int64)
    c0 = np.round((start[:, 0] - x0) / FIELD_RES).astype(np.int64)
    best = np.full(rows * cols, np.inf)
    offset, along = np.zeros(rows * cols), np.zeros(rows * cols)
    index = np.zeros(rows * cols, np.int64)
    for chunk in np.array_split(np.arange(len(start)), max(1, len(start) // 256)):
        r, c = r0[chunk, None] + dr, c0[chunk, None] + dc                      # cells around each segment
        ok = (r >= 0) & (r < rows) & (c >= 0) & (c < cols)
        px, py = x0 + c * FIELD_RES, y1 - r * FIELD_RES
        ax, ay = start[chunk, 0:1], start[chunk, 1:2]
        sx, sy = seg[chunk, 0:1], seg[chunk, 1:2]
        t = np.clip(((px - ax) * sx + (py - ay) * sy) / seg_len2[chunk, None], 0.0, 1.0)
        dist = np.hypot(px - ax - t * sx, py - ay - t * sy)
        signed = np.where(sx * (py - ay) - sy * (px - ax) >= 0, dist, -dist)
        cell, d = (r * cols + c)[ok], dist[ok]
        order = np.lexsort((d, cell))                      # per cell, the nearest segment first
        cell, first = np.unique(cell[order], return_index=True)
        d, signed_best, t_best = d[order][first], signed[ok][order][first], t[ok][order][first]
        seg_index = np.broadcast_to(chunk[:, None], r.shape)[ok][order][first]
        closer = d < best[cell]
        best[cell[closer]], offset[cell[closer]] = d[closer], signed_best[closer]
        index[cell[closer]], along[cell[closer]] = seg_index[closer], t_best[closer]
    covered = np.isfinite(best)
    left = np.where(covered, track.walls[index, 0] - offset, -OUTSIDE)
    right = np.where(covered, track.walls[index, 1] + offset, -OUTSIDE)
    rng = np.random.default_rng(seed)
    grain = cv2.GaussianBlur(rng.normal(0, noise, (rows, cols)).astype(np.float32), (0, 0), 0.7) if noise > 0 \
        else np.zeros((rows, cols), np.float32)
    smooth = np.dstack([left.reshape(rows, cols), right.reshape(rows, cols), grain])
    # the line's left normal at the cell centre's foot (vertex normals interpolated along the segment, so
    # neighbouring cells agree to a millimetre in bends), per cell step: a col is +res in x, a row -res in y
    seg_normal = np.column_stack([-seg[:, 1], seg[:, 0]]) / np.sqrt(seg_len2)[:, None]
    vertex = seg_normal + np.roll(seg_normal, 1, axis=0)
    vertex /= np.linalg.norm(vertex, axis=1, keepdims=True)
    foot = (1 - along)[:, None] * vertex[index] + along[:, None] * vertex[(index + 1) % len(vertex)]
    foot /= np.maximum(np.linalg.norm(foot, axis=1, keepdims=True), 1e-12)
    gu = np.where(covered, foot[:, 0] * FIELD_RES, 0.0)
    gv = np.where(covered, -foot[:, 1] * FIELD_RES, 0.0)
    cell_rows, cell_cols = np.divmod(np.arange(rows * cols), cols)
    a = np.where(covered, offset - gu * cell_cols - gv * cell_rows, OUTSIDE)
    line = np.dstack([a.reshape(rows, cols), gu.reshape(rows, cols), gv.reshape(rows, cols)])
    return GroundField(np.ascontiguousarray(smooth, np.float32), np.ascontiguousarray(line, np.float32), x0, y1)


class Renderer:
    def __init__(self, track: Track, appearance: Appearance = Appearance(), rig: Rig = Rig()) -> None:
        self.track, self.appearance, self.camera_height = track, appearance, rig.camera_height
        self._tilt = (math.cos(rig.camera_pitch), math.sin(rig.camera_pitch))
        self.field = ground_field(track, appearance.texture_noise, appearance.seed)
        self._x0, self._y1 = self.field.x0, self.field.y1
        self._colours = {name: np.clip(np.array(getattr(appearance, name), np.float32) * appearance.brightness,
                                       0, 255) for name in ("asphalt", "grass", "red_line")}
        light = track.light
        self._wall_rgb = np.array(light.wall_colour)
        self._wall_scale = 255 * appearance.brightness * appearance.wall_brightness
        self._ambient = np.array(light.ambient)
        sun = rig.sun(light.sun_direction)
        self._sun = -sun[:2] if sun is not None else None   # towards the sun
        self._lut = self._colour_table()
        self._setup_rays()
        self._template = self._sky()
        marks = track.markings
        self._marks = np.concatenate([m.triangles for m in marks]) if marks else np.zeros((0, 3, 2))
        self._mark_rgb = np.concatenate([np.tile(m.rgb, (len(m.triangles), 1)) for m in marks]) if marks \
            else np.zeros((0, 3))
        self._mark_height = np.concatenate([np.full(len(m.triangles), self.camera_height - m.z) for m in marks]) \
            if marks else np.zeros(0)
        self._mark_centres = self._marks.mean(axis=1)
        self._mark_colours = [tuple(int(v) for v in rgb) for rgb in self._mark_rgb]

    def _colour_table(self) -> np.ndarray:
        """Entries 0..SHADES-1: asphalt blending into the red line; SHADES: grass (cv2.LUT layout)."""
        col = self._colours
        t = np.linspace(0, 1, SHADES)[:, None]
        table = np.zeros((256, 3), np.float32)
        table[:SHADES] = (1 - t) * col["asphalt"] + t * col["red_line"]
        table[SHADES:] = col["grass"]
        return np.clip(np.round(table), 0, 255).astype(np.uint8).reshape(256, 1, 3)

    def _setup_rays(self) -> None:
        """Per ground pixel: (forward, left) metres from the camera, and the footprint of a pixel there. A camera
        tilted down by p sees, in the row b pixels below the image centre, the ground at h (f cos p - b sin p) /
        (f sin p + b cos p) ahead, a column spanning h / (f sin p + b cos p) metres (level: h f / b and h / b)."""
        f = camera_matrix()[0, 0]
        self._f = f
        cos_p, sin_p = self._tilt
        below = np.arange(HEIGHT) + 0.5 - HEIGHT / 2                        # pixel centres below the image centre
        facing = f * sin_p + below * cos_p                                  # > 0: the row's ray meets the ground
        along = f * cos_p - below * sin_p                                   # level: f, forward = h * along / facing
        seen = facing > 0
        forward = np.full(HEIGHT, np.inf)
        forward[seen] = (self.camera_height - self.track.ground_z) * along[seen] / facing[seen]
        keep = forward <= FAR_CLIP
        self._first = int(np.argmax(keep))                                  # first drawn ground row
        forward, along = forward[self._first:], along[self._first:]
        cols = np.arange(WIDTH) + 0.5 - WIDTH / 2
        self._fwd = np.ascontiguousarray(np.repeat(forward[:, None], WIDTH, 1), dtype=np.float32)
        self._left = np.ascontiguousarray(-cols[None, :] * forward[:, None] / along[:, None], dtype=np.float32)
        # coverage * (SHADES - 1) = (half width - |offset|) / footprint * (SHADES - 1) + (SHADES - 1) / 2
        slope = np.repeat((along / forward)[:, None] * (SHADES - 1), WIDTH, 1)
        self._cover_slope = np.ascontiguousarray(slope, np.float32)
        full = slope * 0.5 * self.track.red_line_width + (SHADES - 1) / 2 + 0.5        # + 0.5: round
        self._cover_full = np.ascontiguousarray(full, np.float32)
        self._forward = forward.astype(np.float32)
        self._rows = np.arange(HEIGHT, dtype=np.int32)[:, None]
        ground_rows = HEIGHT - self._first
        self._row_ids = np.ascontiguousarray(np.repeat(np.arange(1, ground_rows + 1, dtype=np.uint16)[:, None], WIDTH, 1))

    def _row_of(self, forward: np.ndarray, up: float | np.ndarray) -> np.ndarray:
        """Image rows (unrounded) of points ``forward`` m ahead of the camera and ``up`` m above it."""
        cos_p, sin_p = self._tilt
        if sin_p == 0.0:   # level: this arithmetic exactly, so a level camera's frames stay bit for bit the same
            return HEIGHT / 2 - self._f * up / forward
        return HEIGHT / 2 - self._f * (forward * sin_p + up * cos_p) / (forward * cos_p - up * sin_p)

    def _sky(self) -> np.ndarray:
        look = self.appearance
        image = np.empty((HEIGHT, WIDTH, 3), np.uint8)
        t = np.linspace(0, 1, self._first)[:, None]
        sky = (1 - t) * np.array(look.sky_top) + t * np.array(look.sky_horizon)
        image[: self._first] = np.clip(sky * look.brightness, 0, 255).astype(np.uint8)[:, None, :]
        return image

    def sample(self, x: float, y: float, yaw: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per ground pixel for the car at (x, y, yaw): signed distance to the red line, room to the left
        and right walls, grain; each (rows, WIDTH) float32."""
        c, s = math.cos(yaw), math.sin(yaw)
        cx = x + CAMERA_FORWARD * c - CAMERA_LEFT * s
        cy = y + CAMERA_FORWARD * s + CAMERA_LEFT * c
        inv = 1.0 / FIELD_RES
        # world = camera + fwd * (c, s) + left * (-s, c); field col = (wx - x0)/res, row = (y1 - wy)/res
        map_u = cv2.addWeighted(self._fwd, c * inv, self._left, -s * inv, (cx - self._x0) * inv)
        map_v = cv2.addWeighted(self._fwd, -s * inv, self._left, -c * inv, (self._y1 - cy) * inv)
        room_left, room_right, grain = cv2.split(cv2.remap(
            self.field.smooth, map_u, map_v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
            borderValue=(-OUTSIDE, -OUTSIDE, 0.0)))
        a, gu, gv = cv2.split(cv2.remap(self.field.line, map_u, map_v, cv2.INTER_NEAREST,
                                        borderMode=cv2.BORDER_CONSTANT, borderValue=(OUTSIDE, 0.0, 0.0)))
        offset = cv2.add(a, cv2.add(cv2.multiply(gu, map_u), cv2.multiply(gv, map_v)))
        self._gradient, self._camera = (gu, gv), (cx, cy, c, s)     # the line's direction under each pixel, for the walls' shading
        return offset, room_left, room_right, grain

    def render(self, x: float, y: float, yaw: float, out: np.ndarray | None = None) -> np.ndarray:
        """The rgb8 640x480 camera image for the car at (x, y) heading ``yaw`` (rad)."""
        offset, room_left, room_right, grain = self.sample(x, y, yaw)
        room = cv2.min(room_left, room_right)
        # colour-table index: red-line coverage of the pixel (0: asphalt .. SHADES-1: red) from its distance
        # to the line and its footprint, saturated into uint8 by OpenCV; then SHADES (grass) beyond the walls
        scaled = cv2.multiply(np.abs(offset), self._cover_slope)
        index = cv2.min(cv2.subtract(self._cover_full, scaled, dtype=cv2.CV_8U), SHADES - 1)
        beyond = cv2.compare(room, 0.0, cv2.CMP_LT)     # 255 beyond a wall
        grass = cv2.min(beyond, SHADES)
        index = cv2.max(index, grass)
        ground = cv2.LUT(cv2.merge([index, index, index]), self._lut)
        image = self._template.copy() if out is None else out
        if out is not None:
            np.copyto(out[: self._first], self._template[: self._first])
        ground = cv2.add(ground, cv2.merge([grain, grain, grain]), dtype=cv2.CV_8U)
        image[self._first:] = ground
        self._wall_rows = None
        if len(self._marks):   # markings under the red line's surface, the line over them, then those above
            if self._draw_markings(image, above=False):
                line = (index > 0) & (index < SHADES)
                np.copyto(image[self._first:], ground, where=line[..., None])
            self._draw_markings(image, above=True)
        if self.track.walled:
            self._draw_walls(image, beyond, room, room_left < room_right)
        return image

    def _draw_markings(self, image: np.ndarray, above: bool) -> bool:
        """Start lines and grid boxes lower than the red line (or, ``above``, higher): their triangles projected
        onto the image, clipped at the near plane. True when any was in view."""
        cx, cy, c, s = self._camera
        rel = self._mark_centres - (cx, cy)
        level = (self._mark_height < self.camera_height - self.track.ground_z) == above
        near = np.flatnonzero((np.einsum("ij,ij->i", rel, rel) < (FAR_CLIP + 3.0) ** 2) & level)
        if not len(near):
            return False
        d = self._marks[near] - (cx, cy)                        # (n, 3, 2): every triangle in reach at once
        fwd, left = d @ (c, s), d @ (-s, c)
        below = self._mark_height[near][:, None]                # m under the camera
        cos_p, sin_p = self._tilt
        depth, rise = fwd * cos_p + below * sin_p, fwd * sin_p - below * cos_p   # along / up the camera's axes
        ahead = depth >= NEAR_CLIP
        whole = ahead.all(axis=1)                               # no clipping needed: projected together
        points = project(depth, left, rise) if whole.any() else None
        for k, i in enumerate(near):   # in the markings' order: later ones cover earlier ones
            if whole[k]:
                polygon_points = points[k]
            elif ahead[k].any():
                polygon = _clip_near(np.column_stack([depth[k], left[k], rise[k]]), NEAR_CLIP)
                if len(polygon) < 3:
                    continue
                polygon_points = project(polygon[:, 0], polygon[:, 1], polygon[:, 2])
            else:
                continue
            cv2.fillPoly(image, [polygon_points], self._mark_colours[i], cv2.LINE_AA, shift=4)
        return True

    def _wall_colours(self, g: np.ndarray, columns: np.ndarray, left: np.ndarray) -> np.ndarray:
        """(n, 3) uint8: the wall's colour under the world's ambient light and sun, by the way it faces."""
        light = np.broadcast_to(self._ambient, (len(columns), 3)).copy()
        if self._sun is not None:
            gu, gv = (grad[g, columns] for grad in self._gradient)
            facing = np.where(left[g, columns], -1.0, 1.0) / FIELD_RES       # the face looks into the road
            lambert = facing * (gu * self._sun[0] - gv * self._sun[1])       # normal (gu, -gv) / res
            light += SUN_DIFFUSE * np.clip(lambert, 0, None)[:, None]
        # as Gazebo's fixed-function lighting: the lit material colour saturates at 1
        return np.clip(np.minimum(self._wall_rgb * light, 1.0) * self._wall_scale, 0, 255).astype(np.uint8)

    def _draw_walls(self, image: np.ndarray, beyond: np.ndarray, room: np.ndarray, left: np.ndarray) -> None:
        """Per column, the nearest ground point beyond a wall (``beyond``: 255 there) is the wall's foot; it rises
        WALL_HEIGHT."""
        last = cv2.reduce(cv2.bitwise_and(self._row_ids, self._row_ids, mask=beyond), 0, cv2.REDUCE_MAX)[0]   # nearest such row + 1
        columns = np.flatnonzero(last)
        if columns.size == 0:
            return
        g = last[columns].astype(np.intp) - 1
        depth = self._forward[g]
        nearer = np.minimum(g + 1, beyond.shape[0] - 1)                        # the last row on the road
        inside, outside = room[nearer, columns], room[g, columns]
        crossing = (nearer != g) & (inside > 0)                                 # where the wall face is
        t = np.where(crossing, inside / np.maximum(inside - outside, 1e-6), 1.0)
        depth = np.where(crossing, self._forward[nearer] + t * (depth - self._forward[nearer]), depth)
        # the wall's face drawn in the foot's column (a tilted camera would lean it slightly)
        top = np.clip(np.round(self._row_of(depth, WALL_HEIGHT - self.camera_height)), 0, HEIGHT)
        foot = np.clip(np.round(self._row_of(depth, self.track.ground_z - self.camera_height)), 0, HEIGHT)
        r0, r1 = int(top.min()), int(foot.max())
        tops, feet = np.zeros(WIDTH, np.int32), np.zeros(WIDTH, np.int32)      # columns without a wall: no rows
        tops[columns], feet[columns] = top, foot                                # whole numbers already
        rows = self._rows[r0:r1]
        mask = (rows >= tops) & (rows < feet)
        self._wall_rows = (r0, mask)
        colours = np.zeros((1, WIDTH, 3), np.uint8)
        colours[0, columns] = self._wall_colours(g, columns, left)
        cv2.copyTo(cv2.repeat(colours, r1 - r0, 1), mask.view(np.uint8), image[r0:r1])   # in place: rows are contiguous

    def masks(self) -> tuple[np.ndarray, np.ndarray]:
        """(walls, ground) pixel masks of the last frame rendered (for fidelity measurements)."""
        walls = np.zeros((HEIGHT, WIDTH), bool)
        if self._wall_rows is not None:
            r0, mask = self._wall_rows
            walls[r0:r0 + len(mask)] = mask
        ground = np.zeros((HEIGHT, WIDTH), bool)
        ground[self._first:] = True
        return walls, ground & ~walls

    def top_down(self, max_side: int = 1200) -> np.ndarray:
        """The whole circuit from above, scaled to at most ``max_side`` pixels (for docs and GUIs)."""
        room = np.minimum(self.field.smooth[..., 0], self.field.smooth[..., 1])
        col = self._colours
        beyond = room < 0
        wall = beyond & (room > -0.3) if self.track.walled else np.zeros_like(beyond)
        image = np.where(beyond[..., None], col["grass"], col["asphalt"]) + self.field.smooth[..., 2:3]
        image[np.abs(self.field.offset_at_cells()) < max(self.track.red_line_width, FIELD_RES) / 2] = col["red_line"]
        image[wall] = np.clip(np.minimum(self._wall_rgb * self._ambient, 1.0) * self._wall_scale, 0, 255)
        image = np.clip(image, 0, 255).astype(np.uint8)
        h, w = image.shape[:2]
        scale = max_side / max(h, w)
        return cv2.resize(image, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)

    def to_pixel(self, x: float, y: float, max_side: int = 1200) -> tuple[int, int]:
        """Where a world point falls in ``top_down(max_side)``."""
        h, w = self.field.line.shape[:2]
        scale = max_side / max(h, w)
        return int((x - self._x0) / FIELD_RES * scale), int((self._y1 - y) / FIELD_RES * scale)
