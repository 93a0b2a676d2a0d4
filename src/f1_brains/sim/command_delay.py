"""Commands that take effect some time after they were decided: the command path's latency, any length.

A command decided on a camera frame lands ``latency`` seconds later; until then the one before stays in force.
Latencies longer than a camera period keep several commands in flight, in order (a slow transport, or the
``latency`` stress condition).
"""
from __future__ import annotations

from collections import deque

Command = tuple[float, ...]        # (v, w) or (v, w, vy)


class DelayedCommands:
    def __init__(self, latency: float, in_force: Command = (0.0, 0.0)) -> None:
        if latency < 0:
            raise ValueError(f"a command latency cannot be negative ({latency} s)")
        self.latency = latency
        self.in_force: Command = in_force
        self._pending: deque[list] = deque()   # [seconds until it lands, command], oldest first

    def decide(self, command: Command) -> None:
        """A command decided now: it lands after ``latency``."""
        self._pending.append([self.latency, command])

    def next_landing(self) -> float | None:
        """Seconds from now until the oldest pending command lands (None: nothing in flight)."""
        return self._pending[0][0] if self._pending else None

    def elapse(self, seconds: float) -> bool:
        """Time passes; commands whose time has come land in order. True when one landed."""
        landed = False
        for entry in self._pending:
            entry[0] -= seconds
        while self._pending and self._pending[0][0] <= 1e-9:
            self.in_force = self._pending.popleft()[1]
            landed = True
        return landed

    def clear(self, in_force: Command = (0.0, 0.0)) -> None:
        self._pending.clear()
        self.in_force = in_force
