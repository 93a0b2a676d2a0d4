"""Planar-move kinematics of the F1 car, as Gazebo's ``libgazebo_ros_planar_move`` drives it.

The plugin sets the body's velocity to the command every physics step: Twist.linear.x (forward, m/s),
Twist.linear.y (to the left, m/s) and Twist.angular.z (rad/s) take effect at once, with no
acceleration limit. An acceleration limit is available as an option (``Accel``), for experiments with
a car that cannot change speed instantly. The pose integrates exactly along the arc of each step.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

MAX_SPEED = 30.0          # m/s; commands beyond are clamped
MAX_YAW_RATE = 10.0       # rad/s


@dataclass(frozen=True)
class CarState:
    x: float = 0.0
    y: float = 0.0
    yaw: float = 0.0
    v: float = 0.0      # forward speed (m/s)
    w: float = 0.0      # yaw rate (rad/s)
    vy: float = 0.0     # sideways speed, to the left (m/s)


@dataclass(frozen=True)
class Accel:
    """Optional limits on how fast the car reaches the command (None: Gazebo's planar move, instant)."""
    linear: float = 10.0      # m/s^2
    angular: float = 30.0     # rad/s^2


def _approach(current: float, target: float, max_change: float) -> float:
    return current + max(-max_change, min(max_change, target - current))


def _clamp(value: float, limit: float) -> float:
    return max(-limit, min(limit, value))


def step(state: CarState, v_cmd: float, w_cmd: float, dt: float, vy_cmd: float = 0.0,
         accel: Accel | None = None) -> CarState:
    """The state ``dt`` seconds later under the command (v_cmd forward, vy_cmd left, w_cmd yaw rate)."""
    v_cmd, vy_cmd = _clamp(v_cmd, MAX_SPEED), _clamp(vy_cmd, MAX_SPEED)
    w_cmd = _clamp(w_cmd, MAX_YAW_RATE)
    if accel is None:
        v, vy, w = v_cmd, vy_cmd, w_cmd
        vm, vym, wm = v, vy, w
    else:
        v = _approach(state.v, v_cmd, accel.linear * dt)
        vy = _approach(state.vy, vy_cmd, accel.linear * dt)
        w = _approach(state.w, w_cmd, accel.angular * dt)
        vm, vym, wm = 0.5 * (state.v + v), 0.5 * (state.vy + vy), 0.5 * (state.w + w)   # mean rates
    yaw = state.yaw + wm * dt
    if abs(wm) > 1e-9:
        ds, dc = math.sin(yaw) - math.sin(state.yaw), math.cos(yaw) - math.cos(state.yaw)
        x = state.x + (vm * ds + vym * dc) / wm
        y = state.y + (-vm * dc + vym * ds) / wm
    else:
        c, s = math.cos(state.yaw), math.sin(state.yaw)
        x, y = state.x + (vm * c - vym * s) * dt, state.y + (vm * s + vym * c) * dt
    return replace(state, x=x, y=y, yaw=math.atan2(math.sin(yaw), math.cos(yaw)), v=v, w=w, vy=vy)
