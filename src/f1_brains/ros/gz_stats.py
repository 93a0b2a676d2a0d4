"""``gz stats -p`` for machines without Gazebo, computed from /clock (opt-in: behaviormetrics/bin on PATH).

BehaviorMetrics' pilot starts ``gz stats -p`` for its real-time factor and subscribes to /clock only once that
command runs; without a ``gz`` it never learns the sim time and its script mode waits for ever. This prints what
Gazebo's does, a header then one line per 0.2 s: ``real-time factor, sim time (s), real time (s), paused (T/F)``,
the factor being sim seconds per wall second over the last second. Nothing else of ``gz`` is provided.
"""
from __future__ import annotations

import collections
import sys
import time

HEADER = "# real-time factor (percent), simtime (sec), realtime (sec), paused (T or F)"
PERIOD_S = 0.2
WINDOW_S = 1.0


class ClockStats:
    """Real-time factor and paused state from (wall, sim) samples of the last ``WINDOW_S`` wall seconds."""

    def __init__(self) -> None:
        self.samples: collections.deque[tuple[float, float]] = collections.deque()
        self.start = time.monotonic()

    def add(self, wall: float, sim: float) -> None:
        self.samples.append((wall, sim))
        while len(self.samples) > 2 and wall - self.samples[0][0] > WINDOW_S:
            self.samples.popleft()

    def line(self, now: float) -> str | None:
        if not self.samples:
            return None   # no world yet
        (w0, s0), (w1, s1) = self.samples[0], self.samples[-1]
        paused = now - w1 > 2 * PERIOD_S or s1 == s0
        factor = 0.0 if paused or w1 <= w0 else (s1 - s0) / (w1 - w0)
        return f"{factor:.2f}, {s1:.2f}, {now - self.start:.2f}, {'T' if paused else 'F'}"


def main(argv: list[str]) -> int:
    if argv[:1] != ["stats"] or any(a not in ("-p", "--plot") for a in argv[1:]) or len(argv) != 2:
        print(f"this gz (f1_brains, for machines without Gazebo) only provides `gz stats -p`, not `gz {' '.join(argv)}`",
              file=sys.stderr)
        return 2
    import rospy
    from rosgraph_msgs.msg import Clock

    stats = ClockStats()
    rospy.init_node("gz_stats", anonymous=True)
    rospy.Subscriber("/clock", Clock, lambda msg: stats.add(time.monotonic(), msg.clock.to_sec()), queue_size=100)
    print(HEADER, flush=True)
    while not rospy.is_shutdown():
        line = stats.line(time.monotonic())
        if line is not None:
            try:
                print(line, flush=True)
            except BrokenPipeError:   # the reader went away (BehaviorMetrics terminates us)
                return 0
        time.sleep(PERIOD_S)
    return 0
