"""Closed-loop driving without ROS: render, decide, advance, frame after frame (lockstep semantics).

The same loop the sim node runs in lockstep mode, minus the transport: useful for tests, tuning and
measuring laps per minute. The command decided on frame k takes effect ``latency`` seconds after it.
"""
from __future__ import annotations

from .renderer import Appearance, Renderer
from .simulation import RunLimits, Simulation
from .track import Track

CAMERA_PERIOD = 0.05   # s (20 Hz)


def drive(track: Track, brain, limits: RunLimits = RunLimits(), latency: float = 0.02,
          period: float = CAMERA_PERIOD, appearance: Appearance = Appearance(), start_s: float | None = None,
          reverse: bool = False, renderer: Renderer | None = None) -> Simulation:
    """Drive until the run ends; returns the finished Simulation (laps, end reason, time)."""
    sim = Simulation(track, limits, start_s=start_s, reverse=reverse)
    renderer = renderer or Renderer(track, appearance)
    v = w = 0.0
    image = None
    while not sim.ended:
        image = renderer.render(sim.car.x, sim.car.y, sim.car.yaw, out=image)
        decision = brain.step(image)
        sim.advance(latency, v, w)                      # the previous command until the new one lands
        v, w = decision.v, decision.w
        sim.advance(period - latency, v, w)
    return sim
