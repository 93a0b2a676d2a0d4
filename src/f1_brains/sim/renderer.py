"""Camera images of the flat follow-line world, seen from the car.

The circuit is rasterized once into a top-down texture (asphalt, white edge lines, red centre line,
grass). For a pinhole camera at fixed height with zero pitch, every pixel below the horizon looks at a
fixed ground point (forward, left) in the camera frame; a frame is then one affine map of those
points into texture coordinates (two cv2.addWeighted) and one cv2.remap. Sky and far haze are
precomputed. Deterministic for a given pose, circuit and appearance seed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .track import Track

WIDTH, HEIGHT = 640, 480
HFOV = 1.57                   # rad, as the Gazebo F1 camera
CAMERA_HEIGHT = 0.6           # m above the ground
CAMERA_FORWARD = 0.8          # m ahead of the car's reference point
RESOLUTION = 0.1              # m per texture pixel
MAX_DISTANCE = 250.0          # m; ground farther than this is drawn as haze
RED_LINE_WIDTH = 0.4          # m
EDGE_LINE_WIDTH = 0.25        # m


@dataclass(frozen=True)
class Appearance:
    """Colours (RGB) and lighting; ``varied(seed)`` perturbs them for training robustness."""
    asphalt: tuple[int, int, int] = (92, 92, 98)
    grass: tuple[int, int, int] = (64, 118, 58)
    red_line: tuple[int, int, int] = (215, 25, 25)
    edge_line: tuple[int, int, int] = (235, 235, 235)
    sky_top: tuple[int, int, int] = (95, 150, 220)
    sky_horizon: tuple[int, int, int] = (190, 215, 240)
    brightness: float = 1.0
    texture_noise: float = 6.0
    seed: int = 0

    @classmethod
    def varied(cls, seed: int) -> "Appearance":
        """Lighting, surface tones and a slight tint vary; asphalt stays grey and grass stays green."""
        rng = np.random.default_rng(seed)

        def jitter(colour: tuple[int, int, int], shade: float, tint: float) -> tuple[int, int, int]:
            common = rng.normal(0, shade)   # same shift on every channel: lighter or darker, not another hue
            return tuple(int(np.clip(c + common + rng.normal(0, tint), 0, 255)) for c in colour)

        base = cls()
        return cls(asphalt=jitter(base.asphalt, 20, 4), grass=jitter(base.grass, 15, 8),
                   red_line=jitter(base.red_line, 10, 6), edge_line=jitter(base.edge_line, 10, 3),
                   sky_top=jitter(base.sky_top, 20, 8), sky_horizon=jitter(base.sky_horizon, 15, 6),
                   brightness=float(rng.uniform(0.7, 1.25)), texture_noise=float(rng.uniform(2, 12)), seed=seed)


def camera_matrix() -> np.ndarray:
    f = (WIDTH / 2) / math.tan(HFOV / 2)
    return np.array([[f, 0, WIDTH / 2], [0, f, HEIGHT / 2], [0, 0, 1]])


class Renderer:
    def __init__(self, track: Track, appearance: Appearance = Appearance()) -> None:
        self.track, self.appearance = track, appearance
        self.texture, (self._x0, self._y1) = self._rasterize(track, appearance)
        self._ground_rows = self._ground_geometry()
        self._template = self._sky_and_haze()

    def _rasterize(self, track: Track, look: Appearance) -> tuple[np.ndarray, tuple[float, float]]:
        x0, y0, x1, y1 = track.bounds(margin=30.0)
        w, h = int((x1 - x0) / RESOLUTION) + 1, int((y1 - y0) / RESOLUTION) + 1
        rng = np.random.default_rng(look.seed)
        texture = np.empty((h, w, 3), np.uint8)
        texture[:] = look.grass
        to_px = lambda pts: np.round(np.column_stack([(pts[:, 0] - x0), (y1 - pts[:, 1])]) / RESOLUTION * 16
                                     ).astype(np.int32)  # 4 fractional bits for sub-pixel lines
        centre = to_px(track.points)
        normal = np.column_stack([-np.sin(track.headings), np.cos(track.headings)])

        def polyline(pts, colour, width_m):
            cv2.polylines(texture, [pts], True, colour, max(1, int(round(width_m / RESOLUTION))), cv2.LINE_AA,
                          shift=4)

        polyline(centre, look.asphalt, track.width)
        for side in (1, -1):
            edge = track.points + side * normal * (track.width / 2 - EDGE_LINE_WIDTH)
            polyline(to_px(edge), look.edge_line, EDGE_LINE_WIDTH)
        polyline(centre, look.red_line, RED_LINE_WIDTH)
        if look.texture_noise > 0:   # low-amplitude, blurred grain so surfaces are not flat colour
            noise = cv2.GaussianBlur(rng.normal(0, look.texture_noise, (h, w)).astype(np.float32), (0, 0), 1.5)
            texture = np.clip(texture + noise[..., None], 0, 255).astype(np.uint8)
        if look.brightness != 1.0:
            texture = cv2.convertScaleAbs(texture, alpha=look.brightness)
        return texture, (x0, y1)

    def _ground_geometry(self) -> tuple[int, np.ndarray, np.ndarray]:
        """First ground row, and per-pixel (forward, left) metres of the ground below the horizon."""
        f = camera_matrix()[0, 0]
        rows = np.arange(HEIGHT // 2 + 1, HEIGHT) + 0.5 - HEIGHT / 2      # pixels below the horizon
        forward = CAMERA_HEIGHT * f / rows                               # per row
        cols = np.arange(WIDTH) + 0.5 - WIDTH / 2
        fwd = np.repeat(forward[:, None], WIDTH, 1).astype(np.float32)
        left = (-cols[None, :] * forward[:, None] / f).astype(np.float32)
        first = HEIGHT // 2 + 1 + int(np.sum(forward > MAX_DISTANCE))
        keep = forward <= MAX_DISTANCE
        return first, np.ascontiguousarray(fwd[keep]), np.ascontiguousarray(left[keep])

    def _sky_and_haze(self) -> np.ndarray:
        look = self.appearance
        image = np.empty((HEIGHT, WIDTH, 3), np.uint8)
        t = np.linspace(0, 1, HEIGHT // 2 + 1)[:, None]
        sky = (1 - t) * np.array(look.sky_top) + t * np.array(look.sky_horizon)
        image[: HEIGHT // 2 + 1] = np.clip(sky * look.brightness, 0, 255).astype(np.uint8)[:, None, :]
        haze = np.clip((np.array(look.sky_horizon) * 0.5 + np.array(look.grass) * 0.5) * look.brightness, 0, 255)
        image[HEIGHT // 2 + 1: self._ground_rows[0]] = haze.astype(np.uint8)
        return image

    def render(self, x: float, y: float, yaw: float, out: np.ndarray | None = None) -> np.ndarray:
        """The rgb8 640x480 camera image for the car at (x, y) heading ``yaw`` (rad)."""
        first, fwd, left = self._ground_rows
        c, s = math.cos(yaw), math.sin(yaw)
        cx, cy = x + CAMERA_FORWARD * c, y + CAMERA_FORWARD * s
        inv = 1.0 / RESOLUTION
        # world = camera + fwd * (c, s) + left * (-s, c); texture u = (wx - x0)/res, v = (y1 - wy)/res
        map_u = cv2.addWeighted(fwd, c * inv, left, -s * inv, (cx - self._x0) * inv)
        map_v = cv2.addWeighted(fwd, -s * inv, left, -c * inv, (self._y1 - cy) * inv)
        image = self._template.copy() if out is None else out
        if out is not None:
            np.copyto(out[:first], self._template[:first])
        image[first:] = cv2.remap(self.texture, map_u, map_v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                  borderValue=tuple(int(v) for v in self.texture[0, 0]))
        return image

    def top_down(self, max_side: int = 1200) -> np.ndarray:
        """The whole circuit from above, scaled to at most ``max_side`` pixels (for docs and GUIs)."""
        h, w = self.texture.shape[:2]
        scale = max_side / max(h, w)
        return cv2.resize(self.texture, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)

    def to_pixel(self, x: float, y: float, max_side: int = 1200) -> tuple[int, int]:
        """Where a world point falls in ``top_down(max_side)``."""
        h, w = self.texture.shape[:2]
        scale = max_side / max(h, w)
        return int((x - self._x0) / RESOLUTION * scale), int((self._y1 - y) / RESOLUTION * scale)
