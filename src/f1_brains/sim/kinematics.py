"""Planar-move kinematics of the F1 car: commanded (v, w) reached under acceleration limits.

Gazebo's planar-move plugin applies Twist.linear.x (m/s) and Twist.angular.z (rad/s) to the body;
here they are reached at bounded linear and angular acceleration, and the pose integrates exactly
along the arc driven during each step.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

MAX_ACCEL = 10.0          # m/s^2
MAX_ANGULAR_ACCEL = 30.0  # rad/s^2
MAX_SPEED = 30.0          # m/s; commands beyond are clamped
MAX_YAW_RATE = 10.0       # rad/s


@dataclass(frozen=True)
class CarState:
    x: float = 0.0
    y: float = 0.0
    yaw: float = 0.0
    v: float = 0.0
    w: float = 0.0


def _approach(current: float, target: float, max_change: float) -> float:
    return current + max(-max_change, min(max_change, target - current))


def step(state: CarState, v_cmd: float, w_cmd: float, dt: float,
         max_accel: float = MAX_ACCEL, max_angular_accel: float = MAX_ANGULAR_ACCEL) -> CarState:
    """The state ``dt`` seconds later under the command (v_cmd, w_cmd)."""
    v_cmd = max(-MAX_SPEED, min(MAX_SPEED, v_cmd))
    w_cmd = max(-MAX_YAW_RATE, min(MAX_YAW_RATE, w_cmd))
    v = _approach(state.v, v_cmd, max_accel * dt)
    w = _approach(state.w, w_cmd, max_angular_accel * dt)
    vm, wm = 0.5 * (state.v + v), 0.5 * (state.w + w)   # mean rates over the step
    yaw = state.yaw + wm * dt
    if abs(wm) > 1e-9:
        x = state.x + vm / wm * (math.sin(yaw) - math.sin(state.yaw))
        y = state.y - vm / wm * (math.cos(yaw) - math.cos(state.yaw))
    else:
        x, y = state.x + vm * dt * math.cos(state.yaw), state.y + vm * dt * math.sin(state.yaw)
    return replace(state, x=x, y=y, yaw=math.atan2(math.sin(yaw), math.cos(yaw)), v=v, w=w)
