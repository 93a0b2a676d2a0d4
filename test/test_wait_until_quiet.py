"""The brain node's wait at shutdown for the simulator's last odometry (the one that completes the lap)."""
import threading
import time

from f1_brains.ros.brain_node import wait_until_quiet


def test_waits_for_messages_still_coming_then_returns_once_they_stop():
    arrived = [time.monotonic()]
    stopped = threading.Event()

    def producer():   # a message every 20 ms for 0.3 s, as a receiving thread catching up would deliver them
        for _ in range(15):
            time.sleep(0.02)
            arrived[0] = time.monotonic()
        stopped.set()

    threading.Thread(target=producer, daemon=True).start()
    assert wait_until_quiet(lambda: arrived[0], quiet=0.1, limit=5.0)
    assert stopped.is_set()   # it did not return while messages were still arriving
    assert time.monotonic() - arrived[0] >= 0.1


def test_returns_at_once_when_nothing_came_lately():
    t0 = time.monotonic()
    assert wait_until_quiet(lambda: t0 - 10.0, quiet=0.25, limit=1.0)
    assert time.monotonic() - t0 < 0.25


def test_gives_up_after_the_limit_when_messages_never_stop():
    t0 = time.monotonic()
    assert not wait_until_quiet(time.monotonic, quiet=0.25, limit=0.3)   # a world that goes on: always fresh
    assert 0.3 <= time.monotonic() - t0
