"""Synthetic camera frames of a follow-line road: test inputs and calibration data before the simulator.

Not a renderer (that is sim/): a sky, asphalt narrowing to a vanishing point, and a red centre line
whose lateral offset follows ``offset`` (-1 left edge .. 1 right edge), so frames look like the F1
camera's and a network sees realistic statistics.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

HEIGHT, WIDTH = 480, 640


def road_frame(offset: float, curvature: float = 0.0, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """One rgb8 frame (height x width x 3 uint8)."""
    img = np.empty((height, width, 3), np.uint8)
    horizon = height // 2
    img[:horizon] = (135, 190, 235)   # sky
    img[horizon:] = (70, 110, 60)     # grass
    rows = np.arange(horizon, height)
    depth = (rows - horizon + 1) / (height - horizon)          # 0 at the horizon, 1 at the bottom
    centre = width / 2 + offset * 0.4 * width * depth + curvature * width * (1 - depth) ** 2
    half_road = 0.05 * width + 0.45 * width * depth
    for row, c, hw in zip(rows, centre, half_road):
        left, right = int(max(c - hw, 0)), int(min(c + hw, width))
        img[row, left:right] = (90, 90, 95)                     # asphalt
        line = max(1, int(6 * depth[row - horizon]))
        img[row, max(int(c) - line, 0):int(c) + line] = (220, 20, 20)  # red centre line
    return img


def road_frames(n: int, seed: int = 0) -> list[np.ndarray]:
    """``n`` varied frames (offsets and curvature along a smooth path), deterministic for a seed."""
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * math.pi)
    frames = []
    for i in range(n):
        t = phase + i * 0.15
        frame = road_frame(0.6 * math.sin(t), 0.3 * math.sin(0.37 * t))
        noise = rng.normal(0, 4, frame.shape)
        frames.append(np.clip(frame + noise, 0, 255).astype(np.uint8))
    return frames


def bgr(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
