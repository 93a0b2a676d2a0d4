"""DeepLearningStudio's datasets as they are: a folder of PNG camera frames (``<n>.png``) and a ``data.csv`` with
columns ``v`` and ``w`` (often also ``image_name`` and ``timestamp``).

DLS pairs them by position: the i-th row labels the i-th image in numeric order of the file names. We pair the same
way, so a network trained here on a DLS folder saw what DLS would have shown it, and check the pairing against
``image_name`` where the csv has it. Frames are preprocessed as DLS trains its PyTorch PilotNet (RGB, rows 240:480,
bilinear to 200x66): the stored pixels are that card's ``crop_resize`` output, like our own datasets. Labels keep
DLS's ranges (v 6.5..24 m/s, w -7.1..7.1 rad/s) for the network's normalized outputs.
"""
from __future__ import annotations

import csv
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..core.model_card import DLS_RANGES, InputSpec, preset
from ..errors import ConfigError

CSV = "data.csv"
REQUIRED = ("v", "w")


def is_dls_dataset(data_dir: str | Path) -> bool:
    data_dir = Path(data_dir)
    return (data_dir / CSV).is_file() and not (data_dir / "frames.npy").exists() and any(data_dir.glob("*.png"))


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or ())]
        if missing:
            raise ConfigError(f"{path}: no column {', '.join(missing)} (a DeepLearningStudio data.csv has v and w; "
                              f"found {reader.fieldnames or 'no header'})")
        return list(reader)


def _labels(path: Path, rows: list[dict[str, str]]) -> tuple[np.ndarray, np.ndarray]:
    values = np.empty((len(rows), 2), np.float32)
    for i, row in enumerate(rows):
        try:
            values[i] = float(row["v"]), float(row["w"])
        except (TypeError, ValueError):
            raise ConfigError(f"{path} line {i + 2}: v, w must be numbers, not {row['v']!r}, {row['w']!r}") from None
    if not np.all(np.isfinite(values)):
        raise ConfigError(f"{path} line {int(np.flatnonzero(~np.isfinite(values).all(1))[0]) + 2}: v, w not finite")
    return values[:, 0], values[:, 1]


def _images_in_dls_order(data_dir: Path) -> list[Path]:
    images = list(data_dir.glob("*.png"))
    unnumbered = [p.name for p in images if not p.stem.isdigit()]
    if unnumbered:
        raise ConfigError(f"{data_dir}: {unnumbered[0]} is not named <number>.png, so it has no place in "
                          f"DeepLearningStudio's pairing of images and data.csv rows")
    return sorted(images, key=lambda p: int(p.stem))


def load(data_dir: str | Path, card_input: InputSpec | None = None, progress: bool = True
         ) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, Any]]:
    """(pixels N x H x W x 3 uint8, label columns v, w, group, manifest) of a DLS folder, as ``dataset.load``
    returns them: cropped and resized as ``card_input`` says (default: DLS's PyTorch PilotNet, rows 240:480 to
    66x200). Raises ConfigError naming the file for a malformed csv, a count mismatch or an unreadable image."""
    from tqdm import tqdm
    data_dir = Path(data_dir)
    rows = _rows(data_dir / CSV)
    v, w = _labels(data_dir / CSV, rows)
    images = _images_in_dls_order(data_dir)
    if len(images) != len(rows):
        raise ConfigError(f"{data_dir}: {len(images)} PNG images but {len(rows)} rows in {CSV} (DeepLearningStudio "
                          f"pairs the i-th row with the i-th image in numeric order)")
    named = [Path(r.get("image_name") or "").name for r in rows]
    disagree = [i for i, name in enumerate(named) if name and name != images[i].name and name != images[i].stem]
    if disagree:
        i = disagree[0]
        print(f"warning: {data_dir / CSV}: {len(disagree)} rows name another image than the one DeepLearningStudio "
              f"pairs them with (line {i + 2}: {named[i]!r}, paired with {images[i].name}); paired as DLS does",
              file=sys.stderr)
    card = preset("dls_pytorch_pilotnet")
    card = card if card_input is None else replace(card, input=card_input)
    pixels = np.empty((len(images), card.input.height, card.input.width, 3), np.uint8)
    for i, path in enumerate(tqdm(images, desc=f"reading {data_dir.name}", unit="image", disable=not progress,
                                  file=sys.stderr)):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise ConfigError(f"{path}: not a readable image")
        if image.shape[:2] != (card.input.camera_height, card.input.camera_width):
            raise ConfigError(f"{path}: {image.shape[1]}x{image.shape[0]} pixels, DeepLearningStudio's F1 camera "
                              f"frames are {card.input.camera_width}x{card.input.camera_height}")
        pixels[i] = card.crop_resize(image, "bgr8")
    columns = {"v": v, "w": w, "group": np.full(len(rows), data_dir.name)}
    manifest = {"frames": len(rows), "source": f"DeepLearningStudio dataset {data_dir}", "pairing_disagreements":
                len(disagree), "card_input": card.to_dict()["input"],
                "label_ranges": {k: list(r) for k, r in DLS_RANGES.items()},
                "v_range": [float(v.min()), float(v.max())], "w_range": [float(w.min()), float(w.max())]}
    return pixels, columns, manifest
