"""The simulated run, without ROS: time, the car on a track, lap progress and end conditions.

``Simulation.advance(dt, v, w)`` moves the car; it tracks progress along the centre line (either
direction, from any start point), counts laps, records lap times and the car's distance to the line,
and decides when the run ends: hit the wall (or off the road where there are no walls), stuck, laps
completed, or timeout. The car starts at the circuit's spawn pose (the Gazebo world's) where it has one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from ..worlds.track import Track
from . import kinematics
from .command_delay import DelayedCommands
from .kinematics import Accel, CarState

PHYSICS_DT = 0.01   # s
CAR_HALF_WIDTH = 0.2      # m: the f1_renault body (its mesh, scaled 0.2, is about 0.4 m wide)
OFF_ROAD_MARGIN = 1.0     # m beyond the road edge (no walls) at which the run ends as off track


@dataclass(frozen=True)
class RunLimits:
    laps: int = 1                 # 0: drive until another condition ends the run
    timeout: float = 600.0        # sim seconds; 0: none
    stuck_time: float = 10.0      # s below stuck_speed (after the start grace period) ends the run; 0: never
    stuck_speed: float = 0.2      # m/s
    start_grace: float = 5.0      # s


@dataclass
class LapRecord:
    lap_time: float
    distance: float
    mean_abs_offset: float
    max_abs_offset: float


@dataclass
class Simulation:
    track: Track
    limits: RunLimits = field(default_factory=RunLimits)
    start_s: float | None = None      # None: the circuit's spawn pose, else the line's start
    reverse: bool = False
    accel: Accel | None = None        # None: planar move, the command applies at once

    def __post_init__(self) -> None:
        self.reset()

    def reset(self, keep_time: bool = False) -> None:
        """Back to the start; ``keep_time``: the clock goes on (Gazebo's reset_world) instead of restarting at 0."""
        spawn = self.track.spawn
        if self.start_s is None and not self.reverse and spawn is not None:
            x, y, yaw = spawn.x, spawn.y, spawn.yaw
        else:
            x, y, heading = self.track.pose_at(self.start_s or 0.0)
            yaw = heading + (math.pi if self.reverse else 0.0)
        self.car = CarState(x=x, y=y, yaw=math.atan2(math.sin(yaw), math.cos(yaw)))
        self.time = self.time if keep_time else 0.0
        self.progress = 0.0                  # signed metres along the line since the start
        self._last_s = self._s = self.track.project(x, y).s
        self.laps: list[LapRecord] = []
        self._run_start = self._lap_start_time = self.time
        self._lap_distance = 0.0
        self._lap_offsets: list[float] = []
        self._slow_since: float | None = None
        self.end_reason: str | None = None
        self.offset = 0.0

    @property
    def ended(self) -> bool:
        return self.end_reason is not None

    def camera_period(self, commands: DelayedCommands, period: float,
                      at_landing: Callable[[], None] | None = None) -> None:
        """One camera period of the closed loop, as every driver of the simulator runs it: the command in force
        drives until the next decided one lands (``commands``, decided on this or earlier frames), and so on to the
        period's end. ``at_landing`` runs at each landing (the ROS node publishes the clock there)."""
        left = period
        while (due := commands.next_landing()) is not None and due < left - 1e-9:
            self.advance(due, *commands.in_force)
            left -= due
            commands.elapse(due)
            if at_landing is not None:
                at_landing()
        self.advance(left, *commands.in_force)
        commands.elapse(left)

    def hold(self, duration: float) -> None:
        """Time passes with the car where the run ended: a world that outlives its run, as Gazebo's does."""
        self.time += duration

    def advance(self, duration: float, v_cmd: float, w_cmd: float, vy_cmd: float = 0.0) -> None:
        """Integrate ``duration`` seconds (in PHYSICS_DT steps) under one command; stops at a run end."""
        steps = max(1, int(round(duration / PHYSICS_DT)))
        dt = duration / steps
        for _ in range(steps):
            if self.ended:
                return
            before = self.car
            self.car = kinematics.step(self.car, v_cmd, w_cmd, dt, vy_cmd, self.accel)
            self.time += dt
            self._lap_distance += math.hypot(self.car.x - before.x, self.car.y - before.y)
            self._update_progress()
            self._check_end()

    def _update_progress(self) -> None:
        p = self.track.project(self.car.x, self.car.y)
        ds = self.track.step_along(self._last_s, p.s)
        self._last_s = p.s
        self.progress += -ds if self.reverse else ds
        self.offset, self._s = p.offset, p.s
        self._lap_offsets.append(abs(p.offset))
        if self.progress >= (len(self.laps) + 1) * self.track.length:
            offsets = np.asarray(self._lap_offsets)
            self.laps.append(LapRecord(self.time - self._lap_start_time, self._lap_distance,
                                       float(offsets.mean()), float(offsets.max())))
            self._lap_start_time, self._lap_distance, self._lap_offsets = self.time, 0.0, []

    def _check_end(self) -> None:
        lim = self.limits
        left, right = self.track.walls_at(self._s)
        edge, side = (left, "left") if self.offset > 0 else (right, "right")
        if self.track.walled and abs(self.offset) + CAR_HALF_WIDTH >= edge:
            self.end_reason = (f"hit the wall: the {side} wall, {edge:.2f} m from the centre line, at "
                               f"{self.progress:.0f} m")
        elif not self.track.walled and abs(self.offset) > edge + OFF_ROAD_MARGIN:
            self.end_reason = f"off track: {abs(self.offset):.1f} m from the centre line at {self.progress:.0f} m"
        elif lim.laps and len(self.laps) >= lim.laps:
            self.end_reason = f"completed {len(self.laps)} lap(s)"
        elif lim.timeout > 0 and self.time - self._run_start >= lim.timeout:
            self.end_reason = f"timeout after {lim.timeout:.0f} s"
        elif lim.stuck_time > 0 and self.time - self._run_start > lim.start_grace and abs(self.car.v) < lim.stuck_speed:
            self._slow_since = self._slow_since if self._slow_since is not None else self.time
            if self.time - self._slow_since >= lim.stuck_time:
                self.end_reason = f"stuck: below {lim.stuck_speed} m/s for {lim.stuck_time:.0f} s"
        else:
            self._slow_since = None

    def end(self, reason: str) -> None:
        """End the run from outside (e.g. the brain went silent)."""
        if not self.ended:
            self.end_reason = reason

    def summary(self) -> dict:
        return {"circuit": self.track.name, "circuit_length_m": self.track.length, "end_reason": self.end_reason,
                "sim_time_s": self.time - self._run_start, "progress_m": self.progress,
                "laps": [lap.__dict__ for lap in self.laps]}
