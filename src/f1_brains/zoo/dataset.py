"""`f1-brains dataset`: the explicit brain drives the simulator (offline, lockstep) and its decisions label
what the camera saw.

The executed command is the expert's plus seeded disturbances (steering noise, short swerves and sideways
pushes that put the car off the line), while the label is always the expert's decision: the data holds the expert
recovering, which a network copying a perfect driver never sees otherwise. Laps alternate direction,
start anywhere, and vary the appearance. Stored per dataset directory:
- frames.npy: N x 66 x 200 x 3 uint8, the card's crop_resize output (what the network sees, before
  normalization), so training and inference share one preprocessing;
- data.csv: DeepLearningStudio's convention (columns v, w) plus circuit, lap, t, offset_m;
- manifest.json: seed, circuits, laps, card input spec, counts, the command.
"""
from __future__ import annotations

import csv
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ..core.commands import Decision
from ..core.explicit import ExplicitBrain
from ..core.model_card import InputSpec, ModelCard
from ..errors import ConfigError
from ..sim import offline
from ..sim.renderer import Appearance
from ..sim.simulation import RunLimits, Simulation
from ..util.files import read_json, write_json_atomic
from ..worlds import circuits
from . import dls_dataset

TRAINING_CIRCUITS = ("simple_circuit", "many_curves", "nurburgring")   # montreal, montmelo: held out


@dataclass
class Disturbance:
    """Seeded disturbances of the executed command: Ornstein-Uhlenbeck steering noise, occasional steering swerves
    (rad/s) and sideways pushes (m/s of linear.y, which Gazebo's planar move honours). The pushes put the car up
    to about a metre off the line without turning it, so the data shows the expert coming back from offsets the
    steering noise alone never reaches (the expert corrects those within a frame or two)."""
    rng: np.random.Generator
    noise: float = 0.15           # stationary std of the steering noise
    swerves_per_s: float = 0.12
    swerve_w: tuple[float, float] = (0.4, 1.0)
    swerve_s: tuple[float, float] = (0.2, 0.6)
    pushes_per_s: float = 0.2
    push_vy: tuple[float, float] = (1.0, 2.5)
    push_s: tuple[float, float] = (0.4, 1.0)

    def __post_init__(self) -> None:
        self._ou = 0.0
        self._swerve, self._swerve_left = 0.0, 0.0
        self._push, self._push_left = 0.0, 0.0

    def _burst(self, value: float, left: float, dt: float, rate: float, size: tuple[float, float],
               length: tuple[float, float]) -> tuple[float, float]:
        """(value, time left) of a burst that starts at ``rate`` per second and lasts ``length`` seconds."""
        if left > 0:
            return value, left - dt
        if self.rng.random() < rate * dt:
            return self.rng.choice((-1, 1)) * self.rng.uniform(*size), self.rng.uniform(*length)
        return 0.0, 0.0

    def step(self, dt: float) -> tuple[float, float]:
        """(added angular.z rad/s, added linear.y m/s) for the next ``dt`` seconds."""
        theta = 2.0
        self._ou += -theta * self._ou * dt + self.noise * math.sqrt(2 * theta * dt) * self.rng.normal()
        self._swerve, self._swerve_left = self._burst(self._swerve, self._swerve_left, dt, self.swerves_per_s,
                                                      self.swerve_w, self.swerve_s)
        self._push, self._push_left = self._burst(self._push, self._push_left, dt, self.pushes_per_s,
                                                  self.push_vy, self.push_s)
        return (self._ou + (self._swerve if self._swerve_left > 0 else 0.0),
                self._push if self._push_left > 0 else 0.0)


def drive_and_record(track_name: str, lap: int, seed: int, card: ModelCard, disturb: bool = True,
                     latency: float = offline.LATENCY) -> tuple[list[np.ndarray], list[dict[str, Any]], str]:
    """One lap's (pixels, labels, end reason); the expert's commands land ``latency`` s after their frame."""
    rng = np.random.default_rng([seed, lap, sum(map(ord, track_name))])
    track = circuits.named(track_name)
    appearance = Appearance() if lap == 0 else Appearance.varied(int(rng.integers(1 << 30)))
    start_s = float(rng.uniform(0, track.length))
    disturbance = Disturbance(rng) if disturb else None
    pixels, labels = [], []

    def record(sim: Simulation, image: np.ndarray, decision: Decision) -> None:
        pixels.append(card.crop_resize(image))
        labels.append({"v": decision.v, "w": decision.w, "circuit": track_name, "lap": lap,
                       "t": round(sim.time, 3), "offset_m": round(sim.offset, 4), "latency_ms": round(latency * 1e3)})

    def disturbed(decision: Decision) -> tuple[float, float, float]:
        dw, dvy = disturbance.step(offline.CAMERA_PERIOD) if disturbance else (0.0, 0.0)
        return decision.v, decision.w + dw, dvy

    sim = offline.drive(track, ExplicitBrain(), RunLimits(laps=1, timeout=track.length / 3.0), latency=latency,
                        start_s=start_s, reverse=lap % 2 == 1, appearance=appearance, on_frame=record,
                        execute=disturbed)
    return pixels, labels, sim.end_reason


def collect(out_dir: str | Path, circuit_names: Iterable[str] = TRAINING_CIRCUITS, laps: int = 2, seed: int = 0,
            disturb: bool = True, card: ModelCard | None = None, progress: bool = True,
            latencies: Sequence[float] = (offline.LATENCY,)) -> dict[str, Any]:
    """Record ``laps`` laps per circuit; lap k's commands land ``latencies[k % len(latencies)]`` s after their frame
    (states a slow command path visits, labelled with what the expert decides there)."""
    from tqdm import tqdm
    card = card or ModelCard(input=InputSpec(layout="NCHW"))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(c, lap) for c in circuit_names for lap in range(laps)]
    all_pixels, all_labels, ends = [], [], {}
    for name, lap in tqdm(jobs, desc="dataset", unit="lap", disable=not progress, file=sys.stderr):
        pixels, labels, reason = drive_and_record(name, lap, seed, card, disturb, latencies[lap % len(latencies)])
        all_pixels += pixels
        all_labels += labels
        ends[f"{name}/{lap}"] = reason
    np.save(out / "frames.npy", np.stack(all_pixels))
    with open(out / "data.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["v", "w", "circuit", "lap", "t", "offset_m", "latency_ms"])
        writer.writeheader()
        writer.writerows(all_labels)
    manifest = {"frames": len(all_labels), "seed": seed, "circuits": list(circuit_names), "laps": laps,
                "disturbed": disturb, "latencies_s": list(latencies), "card_input": card.to_dict()["input"], "lap_ends": ends,
                "v_range": [float(min(r["v"] for r in all_labels)), float(max(r["v"] for r in all_labels))],
                "w_range": [float(min(r["w"] for r in all_labels)), float(max(r["w"] for r in all_labels))]}
    write_json_atomic(out / "manifest.json", manifest)
    return manifest


def load(data_dir: str | Path, card_input: InputSpec | None = None
         ) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, Any]]:
    """(pixels N x H x W x 3 uint8, label columns v, w, group, manifest) of a dataset directory: ours (frames.npy,
    memory-mapped) or DeepLearningStudio's (PNG frames + data.csv, zoo.dls_dataset, cropped and resized as
    ``card_input`` says, else as DLS's PyTorch PilotNet). Raises ConfigError naming the directory when it is neither,
    the file at fault, or when our dataset's stored frames are not what ``card_input`` crops."""
    data_dir = Path(data_dir)
    if dls_dataset.is_dls_dataset(data_dir):
        return dls_dataset.load(data_dir, card_input)
    if not (data_dir / "frames.npy").is_file() or not (data_dir / "data.csv").is_file():
        raise ConfigError(f"{data_dir} is no dataset: neither frames.npy + data.csv + manifest.json (f1-brains "
                          f"dataset) nor <n>.png frames + data.csv (DeepLearningStudio)")
    manifest = read_json(data_dir / "manifest.json")
    stored = stored_input(manifest)
    if card_input is not None and not stored.crops_like(card_input):
        raise ConfigError(f"{data_dir} stores camera rows {stored.crop_rows} at {stored.width}x{stored.height}; the "
                          f"network needs rows {card_input.crop_rows} at {card_input.width}x{card_input.height} "
                          f"(a DeepLearningStudio folder of whole camera frames can be read so)")
    with open(data_dir / "data.csv") as f:
        rows = list(csv.DictReader(f))
    columns = {"v": np.array([float(r["v"]) for r in rows], np.float32),
               "w": np.array([float(r["w"]) for r in rows], np.float32),
               "group": np.array([f"{r.get('circuit', '')}/{r.get('lap', '')}" for r in rows])}
    return np.load(data_dir / "frames.npy", mmap_mode="r"), columns, manifest


def stored_input(manifest: dict[str, Any]) -> InputSpec:
    """How a dataset's stored frames were cropped and resized (its manifest's card input), ours or DLS's."""
    return ModelCard.from_dict({"input": manifest["card_input"]}).input
