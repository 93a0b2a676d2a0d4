"""Recordings for checking our BehaviorMetrics keys against BM's own metric code: each case drives a BM
perfect-lap bag's line (../shared/worlds/bm_perfect_bags) in a known way (offset, start, speed, how far), so the
same recording can be rebuilt in a test without BM and written as a bag for BM's code (test/make_bm_fixtures.py)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

BAGS = Path(__file__).resolve().parents[2] / "shared" / "worlds" / "bm_perfect_bags"
CLOCK_RATE = 100.0   # Hz of the /clock written into a case's bag
ODOM_PERIOD = 0.05   # s: 20 Hz odometry, as the F1 car's


@dataclass(frozen=True)
class Case:
    name: str
    bag: str              # the reference: lap-<circuit>.bag
    start: float          # share of the lap where the car starts
    laps: float           # how far it drives, in laps
    speed: float          # m/s
    offset: float         # m to the left of the line (constant part)
    wave: float = 0.0     # m: amplitude of a sideways weave (period 40 m)
    parked: int = 0       # odometry samples standing still before driving
    reverse: bool = False  # drive against the reference's direction
    t0: float = 3.4       # sim time of the first sample (s)


CASES = (
    Case("simple_offset_lap", "lap-simple-circuit.bag", 0.0, 1.15, 10.0, 0.20),
    Case("nurburgring_weave_crash", "lap-nurburgring.bag", 0.0, 0.60, 8.0, 0.0, wave=0.35),
    Case("many_curves_mid_start", "lap-many-curves.bag", 0.30, 1.10, 6.0, 0.10),
    Case("montmelo_parked_start", "lap-montmelo.bag", 0.0, 1.05, 12.0, -0.15, parked=40, t0=0.0),
    Case("montreal_wide_weave", "lap-montreal.bag", 0.1, 0.5, 15.0, 0.3, wave=1.4),
    Case("simple_reverse", "lap-simple-circuit.bag", 0.5, 1.1, 9.0, 0.3, reverse=True),
)


def reference(case: Case) -> np.ndarray:
    """The perfect lap's /F1ROS/odom positions (BM's checkpoints)."""
    import rosbag
    with rosbag.Bag(str(BAGS / case.bag)) as bag:
        return np.array([(m.pose.pose.position.x, m.pose.pose.position.y)
                         for _, m, _ in bag.read_messages(topics=["/F1ROS/odom"])])


def recording(case: Case) -> tuple[np.ndarray, np.ndarray]:
    """(positions N x 2, sim times N) of the case's drive along its reference."""
    ref = reference(case)
    back = np.where(np.hypot(*(ref - ref[0]).T) <= 1.0)[0]    # a bag may run on past its start (many_curves: 11 m)
    back = back[back > 100]
    loop = np.vstack([ref[:back[0]] if len(back) else ref, ref[:1]])
    seg = np.hypot(*np.diff(loop, axis=0).T)
    keep = np.concatenate([[True], seg > 1e-6])          # drop repeated samples (the car stood still)
    loop, s = loop[keep], np.concatenate([[0.0], np.cumsum(seg[seg > 1e-6])])
    length = s[-1]
    along = case.start * length + (-1 if case.reverse else 1) * np.arange(0.0, case.laps * length,
                                                                           case.speed * ODOM_PERIOD)
    along = np.concatenate([np.full(case.parked, along[0]), along])
    wrapped = np.mod(along, length)
    x, y = np.interp(wrapped, s, loop[:, 0]), np.interp(wrapped, s, loop[:, 1])
    ahead = np.mod(wrapped + 0.5, length)
    tx, ty = np.interp(ahead, s, loop[:, 0]) - x, np.interp(ahead, s, loop[:, 1]) - y
    norm = np.hypot(tx, ty)
    side = case.offset + case.wave * np.sin(2 * np.pi * along / 40.0)
    positions = np.column_stack([x - side * ty / norm, y + side * tx / norm])
    times = case.t0 + ODOM_PERIOD * np.arange(len(positions))
    return positions, times


def clock(times: np.ndarray) -> np.ndarray:
    """The /clock readings a recording of these odometry times holds (CLOCK_RATE, from the first sample on)."""
    return np.arange(times[0], times[-1] + 1e-9, 1.0 / CLOCK_RATE)
