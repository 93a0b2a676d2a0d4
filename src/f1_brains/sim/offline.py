"""Closed-loop driving without ROS: render, decide, advance, frame after frame (lockstep semantics).

The same loop the sim node runs in lockstep mode (``Simulation.camera_period``), minus the transport: for tests,
tuning, datasets and laps per minute. The command decided on frame k takes effect ``latency`` seconds after it
(any length: longer than a camera period, several commands are in flight).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..core.commands import Decision
from ..worlds.track import Track
from .command_delay import DelayedCommands
from .renderer import Appearance, Renderer
from .simulation import RunLimits, Simulation

CAMERA_PERIOD = 0.05   # s (20 Hz)
LATENCY = 0.02         # s from the frame to its command landing


def drive(track: Track, brain, limits: RunLimits = RunLimits(), latency: float = LATENCY,
          period: float = CAMERA_PERIOD, appearance: Appearance = Appearance(), start_s: float | None = None,
          reverse: bool = False, renderer: Renderer | None = None,
          on_frame: Callable[[Simulation, np.ndarray, Decision], None] | None = None,
          execute: Callable[[Decision], tuple[float, ...]] | None = None) -> Simulation:
    """Drive until the run ends; returns the finished Simulation (laps, end reason, time). ``on_frame`` sees each
    frame with the brain's decision before the car moves; ``execute`` turns a decision into the command the car
    gets, (v, w) or (v, w, vy) (default: (v, w) as decided; the dataset adds its disturbances there)."""
    sim = Simulation(track, limits, start_s=start_s, reverse=reverse)
    renderer = renderer or Renderer(track, appearance)
    commands = DelayedCommands(latency)
    image = None
    while not sim.ended:
        image = renderer.render(sim.car.x, sim.car.y, sim.car.yaw, out=image)
        decision = brain.step(image)
        if on_frame is not None:
            on_frame(sim, image, decision)
        commands.decide(execute(decision) if execute is not None else (decision.v, decision.w))
        sim.camera_period(commands, period)
    return sim
