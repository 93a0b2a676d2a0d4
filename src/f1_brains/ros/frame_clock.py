"""When the camera's next frame is due, from the last arrivals: the brain node warms its network just before then.

A 20 Hz brain idles ~49 of every 50 ms; in that gap the core sleeps and other work (the simulator, rospy) evicts
the network's weights and code from the caches, so the next frame's inference ran 2-3x slower than back to back
(docs/results/node_run.md). Running the brain once on the last frame shortly before the next is due
(``Brain.rehearse``) makes that frame find them warm. Pure Python, no ROS: the node feeds it arrival times.
"""
from __future__ import annotations

import statistics
from collections import deque


class FrameClock:
    """Arrival times (``time.perf_counter`` seconds) of a camera's frames, and when the next is due.

    The period is the median of the last ``window`` intervals; a camera with fewer than 3 intervals seen, or faster
    than ``min_period`` (a lockstep simulator answering at once: nothing to warm between frames), has no due time.
    """

    def __init__(self, window: int = 8, min_period: float = 0.010) -> None:
        if window < 3:
            raise ValueError(f"window {window}: at least 3 intervals are needed for a median period")
        self.min_period = min_period
        self._intervals: deque[float] = deque(maxlen=window)
        self._last: float | None = None

    def arrived(self, t: float) -> None:
        if self._last is not None and t > self._last:
            self._intervals.append(t - self._last)
        self._last = t

    @property
    def period(self) -> float | None:
        if len(self._intervals) < 3:
            return None
        period = statistics.median(self._intervals)
        return period if period >= self.min_period else None

    def warm_up_at(self, lead: float) -> float | None:
        """``lead`` seconds before the next frame may come: the shortest recent interval after the last arrival (a
        late frame is followed by an early one, on the camera's own clock), at least half a period after it. None
        when no period is known or ``lead`` <= 0."""
        period = self.period
        if period is None or lead <= 0 or self._last is None:
            return None
        return self._last + max(min(self._intervals) - lead, period / 2)
