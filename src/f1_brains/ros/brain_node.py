"""The brain node: camera images in, geometry_msgs/Twist out, with a watchdog and per-frame timings.

The brain answers in rospy's receiving thread, as the frame arrives: handing the frame to a worker thread cost a
thread wake-up and a GIL hand-over per frame (docs/results/node_run.md). Latest frame wins: the camera is
subscribed with queue_size 1, so of the frames that came while the brain was busy rospy keeps only the newest; the
others are counted as skipped from the gaps in the camera publisher's header.seq (which roscpp and rospy number
per publisher). A frame stamped like the one taken last is a repeat (the lockstep simulator resends a frame it got
no answer to within a second) and gets no second answer: in lockstep, answers are counted, and a second one would be
taken for the next frame's. The node's loop keeps the watchdog, the warm-up and the odometry. The car gets a zero
Twist when the camera is silent for ``~silence_timeout`` seconds of ROS time (the simulator's clock under
/use_sim_time: a world that stalls moves no car, and a stop sent then would land in a lockstep run as an answer),
when a frame cannot be processed (bad encoding or size, NaN output, backend error), and at shutdown.
Parameters (all private): ``brain`` (name or YAML path),
``camera_topic``, ``cmd_vel_topic``, ``silence_timeout``, ``summary_file`` (JSON written at shutdown),
``warm_up_lead_ms`` (the brain is run once more on the last frame, so as to be done this long before the next is
due, which then finds it warm: frame_clock.py; 0: never), and overrides ``device``, ``threads``.
With ``out`` and a reference (``circuit``, or a BehaviorMetrics ``reference_bag``) it also records lap
statistics from ``odom_topic`` into out/run.json and out/frames.csv (see recorder.py).
"""
from __future__ import annotations

import faulthandler
import signal
import statistics
import sys
import threading
import time
import warnings
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
import rospy
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from sensor_msgs.msg import Image
from std_msgs.msg import String

from ..core.brain import load_brain
from ..errors import BadImage, F1BrainsError
from ..results.laps import FrameSample, OdomSample
from ..util.allocator import keep_large_buffers_in_heap
from ..util.files import check_writable_dir, write_json_atomic
from ..util.timing import format_table, summarize
from .frame_clock import FrameClock
from .graph import log_lines_without_the_master, stop_requests
from .publishing import publish_unless_shut_down
from .recorder import LapRecorder, load_reference, run_metadata
from .topics import CAMERA_TOPIC, CMD_VEL_TOPIC


@dataclass
class FrameLog:
    """Per-frame durations (s) and counters of one run."""
    wait: list[float] = field(default_factory=list)     # image arrived -> the brain free for it (a rehearsal ending)
    decode: list[float] = field(default_factory=list)
    preprocess: list[float] = field(default_factory=list)
    inference: list[float] = field(default_factory=list)
    postprocess_publish: list[float] = field(default_factory=list)
    node_overhead: list[float] = field(default_factory=list)   # decode + preprocess + post/publish
    receive_to_command: list[float] = field(default_factory=list)  # image arrived -> command published (wall)
    end_to_end: list[float] = field(default_factory=list)      # image stamp -> command published (ROS time)
    received: int = 0    # frames the camera sent since the node subscribed: delivered, or skipped
    processed: int = 0
    skipped: int = 0     # dropped by rospy for a newer one that came while the brain was busy (header.seq gaps)
    repeats: int = 0     # a frame stamped like the one taken last: not answered twice
    faults: int = 0      # frames answered with a safe stop
    silences: int = 0    # watchdog stops
    clock_behind: int = 0   # frames stamped after the node's clock: no end-to-end latency for them
    warm_ups: list[float] = field(default_factory=list)   # rehearsals of the last frame before the next was due
    during_warm_up: int = 0  # frames that arrived while a rehearsal ran (they waited for it)

    def summary(self) -> dict[str, Any]:
        stages = {"wait (received->brain free)": self.wait, "decode": self.decode, "preprocess": self.preprocess,
                  "inference": self.inference, "postprocess+publish": self.postprocess_publish,
                  "node overhead (excl. inference)": self.node_overhead,
                  "received->cmd (wall)": self.receive_to_command,
                  "end-to-end (stamp->cmd)": self.end_to_end, "warm-up (before a frame)": self.warm_ups}
        return {"frames": {"received": self.received, "processed": self.processed, "skipped": self.skipped,
                           "repeats": self.repeats, "faults": self.faults, "silences": self.silences,
                           "clock_behind": self.clock_behind, "warm_ups": len(self.warm_ups),
                           "during_warm_up": self.during_warm_up},
                "timings": {name: summarize(values) for name, values in stages.items()}}


CLOSE_WAIT_S = 1.0        # at shutdown: how long a frame being answered may still take
ODOM_QUIET_S = 0.25       # at shutdown: odometry silent this long (wall) means the simulator's last has come ...
ODOM_WAIT_LIMIT_S = 1.0   # ... or this long waited (a world that goes on after the run keeps sending)


def wait_until_quiet(last_arrival: Callable[[], float], quiet: float, limit: float) -> bool:
    """Wait until nothing arrived for ``quiet`` s (``last_arrival()``: time.monotonic of the latest) or ``limit`` s
    passed; True if it went quiet."""
    deadline = time.monotonic() + limit
    while True:
        now = time.monotonic()
        silent_until = last_arrival() + quiet
        if now >= silent_until:
            return True
        if now >= deadline:
            return False
        time.sleep(min(silent_until, deadline) - now)


def decode_image(msg: Image) -> np.ndarray:
    """An rgb8/bgr8 sensor_msgs/Image as a height x width x 3 uint8 view, rows read by ``step`` (padding dropped;
    Debian's cv_bridge ignores ``step`` and decodes padded rows as garbage). Raises BadImage."""
    if msg.encoding not in ("rgb8", "bgr8"):
        raise BadImage(f"image encoding {msg.encoding!r} on the camera topic is not supported (expected rgb8 or bgr8)")
    row = msg.width * 3
    if msg.width == 0 or msg.height == 0:
        raise BadImage(f"image is {msg.width}x{msg.height}: empty")
    if msg.step < row:
        raise BadImage(f"image step {msg.step} is shorter than one row of {msg.width} {msg.encoding} pixels ({row} bytes)")
    if len(msg.data) < msg.step * msg.height:
        raise BadImage(f"image data holds {len(msg.data)} bytes; {msg.height} rows of step {msg.step} need "
                       f"{msg.step * msg.height}")
    rows = np.frombuffer(msg.data, np.uint8, count=msg.step * msg.height).reshape(msg.height, msg.step)
    return rows[:, :row].reshape(msg.height, msg.width, 3)


class BrainNode:
    def __init__(self, brain, camera_topic: str = CAMERA_TOPIC, cmd_vel_topic: str = CMD_VEL_TOPIC,
                 silence_timeout: float = 1.0, warm_up_lead: float = 0.002) -> None:
        self.brain = brain
        self.silence_timeout = silence_timeout
        self.warm_up_lead = warm_up_lead   # s before the next frame is due to be done rehearsing the last; 0: never
        self.clock = FrameClock()
        self._last_image: tuple[np.ndarray, str] | None = None   # the frame answered last, for rehearsals
        self._warming = False
        self.log = FrameLog()
        self._last_stamp: rospy.Time | None = None   # of the frame taken last
        self._last_seq: dict[str, int] = {}          # per camera publisher: header.seq of its frame seen last
        self._cond = threading.Condition()   # the counters above; notified when a frame was answered
        self._answered = False               # a frame was answered since the loop last looked
        self._brain_lock = threading.Lock()  # one frame or rehearsal at a time; also guards the recorder
        self._closed = False                 # the run is being written: no more frames (under _brain_lock)
        self._last_frame = rospy.get_time()   # ROS time: sim time under /use_sim_time
        self._stopped = True        # the car is known to be stopped (no motion command outstanding)
        with warnings.catch_warnings():   # rospy warns about queue_size=None: synchronous on purpose
            warnings.simplefilter("ignore", SyntaxWarning)
            # Sent from this thread: publish returns with the command on the wire. A queue (queue_size=N) hands it
            # to a writer thread and yields the GIL to it, which cost 0.06 ms more per command here.
            self.pub = rospy.Publisher(cmd_vel_topic, Twist, queue_size=None)
        self._twist = Twist()       # reused: publish serializes it before returning
        # queue_size 1: of the frames read at once, rospy hands over only the newest. A big buff_size lets one read
        # take all that came while the brain was busy, so the newest is not left queued behind them. Such reads
        # cost 1 ms CPU more per frame unless glibc keeps big buffers in its heap.
        heap_buffers = keep_large_buffers_in_heap()
        self.sub = rospy.Subscriber(camera_topic, Image, self._on_image, queue_size=1, buff_size=1 << 24,
                                    tcp_nodelay=True)
        rospy.on_shutdown(self._on_shutdown)
        self.recorder: LapRecorder | None = None
        self._odom: deque[OdomSample] = deque()   # odometry received, not yet given to the recorder
        self._odom_arrived = time.monotonic()      # when odometry last came
        self.end_reason: str | None = None
        about = brain.describe()
        rospy.loginfo("f1_brain: brain %r on %s (%s), camera %s -> %s%s", brain.name, about["backend"],
                      about["device"], camera_topic, cmd_vel_topic,
                      "" if heap_buffers else " (not glibc: big camera reads cost more CPU)")
        for warning in about.get("warnings", ()):
            rospy.logwarn("f1_brain: %s", warning)

    def record_laps(self, recorder: LapRecorder, odom_topic: str, run_end_topic: str) -> None:
        """Also record lap statistics from odometry (sim time) into the recorder's files."""
        self.recorder = recorder
        self._lap_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lap_writer")
        rospy.Subscriber(odom_topic, Odometry, self._on_odom, queue_size=50)
        rospy.Subscriber(run_end_topic, String, self._on_run_end, queue_size=1)

    def _on_odom(self, msg: Odometry) -> None:
        self._odom_arrived = now = time.monotonic()
        t = msg.twist.twist.linear
        self._odom.append(OdomSample(msg.header.stamp.to_sec(), now, msg.pose.pose.position.x,
                                     msg.pose.pose.position.y, float(np.hypot(t.x, t.y))))

    def record_odometry(self) -> None:
        """Give the recorder the odometry received since the last call; with ``_brain_lock`` held. Once a command is
        out (or between frames): projecting it onto the reference line in the odometry callback took the GIL while
        a frame was being processed, which cost 0.1 ms of the node's p50."""
        while self._odom:
            if self.recorder.add_odom(self._odom.popleft(), self.log.received, self.log.skipped):
                rospy.loginfo("f1_brain: lap %d done", len(self.recorder.splitter.laps) - 1)
                self._lap_writer.submit(self._write_lap)   # tens of ms of statistics: not between two frames

    def _write_lap(self) -> None:
        try:
            self.recorder.write()
        except OSError as e:   # the run's last write tries again and says so too
            rospy.logerr("f1_brain: could not write the lap files: %s", e)

    def _on_run_end(self, msg: String) -> None:
        self.end_reason = msg.data

    def close(self) -> None:
        """No frame is answered after this: one being answered finishes first (unless it hangs for more than
        CLOSE_WAIT_S: the run's files are written all the same)."""
        locked = self._brain_lock.acquire(timeout=CLOSE_WAIT_S)
        self._closed = True
        if locked:
            self._brain_lock.release()

    def write_run(self) -> None:
        if self.recorder is not None:
            # The simulator's last odometry (the one across the finish line, which completes the lap) may still be
            # on its way when the node is told to stop: on a loaded machine its receiving thread had not run yet.
            wait_until_quiet(lambda: self._odom_arrived, ODOM_QUIET_S, ODOM_WAIT_LIMIT_S)
            self.record_odometry()
            self._lap_writer.shutdown(wait=True)
            if self.recorder.journal_error:
                rospy.logwarn("f1_brain: frames were not journaled as they came: %s", self.recorder.journal_error)
            path = self.recorder.write(self.end_reason or "node shut down", self.log.received, self.log.skipped)
            rospy.loginfo("f1_brain: lap statistics written to %s", path)

    def _on_image(self, msg: Image) -> None:
        """In rospy's receiving thread: count the frame, then answer it here."""
        received_at = time.perf_counter()
        with self._cond:
            log = self.log
            log.received += 1
            log.during_warm_up += self._warming
            dropped = self._dropped_before(msg)
            log.received += dropped
            log.skipped += dropped
            stamp = msg.header.stamp
            if stamp and stamp == self._last_stamp:   # a zero stamp (a camera without a clock) is never a repeat
                log.repeats += 1
                return
            self.clock.arrived(received_at)
            self._last_stamp = stamp
        with self._brain_lock:
            if self._closed:
                return
            self._last_frame = rospy.get_time()
            self.process(msg, received_at)
        with self._cond:
            self._answered = True
            self._cond.notify()

    def _dropped_before(self, msg: Image) -> int:
        """How many frames of this message's publisher rospy dropped since its last one: the gap in header.seq. A
        publisher that restarts (or does not number its frames) shows none."""
        publisher = getattr(msg, "_connection_header", {}).get("callerid", "")
        seq, last = msg.header.seq, self._last_seq.get(publisher)
        self._last_seq[publisher] = seq
        return seq - last - 1 if last is not None and seq > last + 1 else 0

    def spin(self, stop: threading.Event) -> None:
        """Until ROS shuts the node down or ``stop`` (a signal, graph.stop_requests) is set: between frames, the
        watchdog, the odometry and the warm-up before the next frame."""
        warm_up_at = None   # when to rehearse the frame answered last (once per frame), None: not this gap
        while not rospy.is_shutdown() and not stop.is_set():
            timeout = 0.05 if warm_up_at is None else min(0.05, max(0.0, warm_up_at - time.perf_counter()))
            with self._cond:
                self._cond.wait_for(lambda: self._answered or rospy.is_shutdown() or stop.is_set(), timeout=timeout)
                answered, self._answered = self._answered, False
                if answered:
                    warm_up_at = self._warm_up_at()
            if answered:
                continue
            with self._brain_lock:   # not if a frame was answered meanwhile: its own warm-up time comes next
                if warm_up_at is not None and not self._answered and time.perf_counter() >= warm_up_at:
                    self._rehearse()
                    warm_up_at = None
                self._watchdog()
                if self.recorder is not None:
                    self.record_odometry()

    def _warm_up_at(self) -> float | None:
        """When to start rehearsing the frame answered last: its recent rehearsals' median duration earlier than the
        lead, so that it is done before the next frame comes (a frame that came during one waited for it)."""
        if self.warm_up_lead <= 0 or self._last_image is None:
            return None
        recent = self.log.warm_ups[-8:]
        return self.clock.warm_up_at(self.warm_up_lead + (statistics.median(recent) if recent else 0.0))

    def _rehearse(self) -> None:
        """Run the brain on the frame answered last, nothing published: the next frame finds it warm. With
        ``_brain_lock`` held: a frame that comes meanwhile waits for it."""
        self._warming = True
        t0 = time.perf_counter()
        try:
            self.brain.rehearse(*self._last_image)
        except Exception:   # the frame was answered once; a fault shows when the next one is
            pass
        finally:
            self._warming = False
        self.log.warm_ups.append(time.perf_counter() - t0)

    def _watchdog(self) -> None:
        now = rospy.get_time()
        if now < self._last_frame:   # the clock went back (a simulation reset): silence counts from there
            self._last_frame = now
        silent = now - self._last_frame
        if silent > self.silence_timeout and not self._stopped:
            self.stop_car(f"camera silent for {silent:.2f} s (timeout {self.silence_timeout} s)")
            self.log.silences += 1

    def stop_car(self, reason: str) -> None:
        publish_unless_shut_down(self.pub, Twist())   # closed at shutdown: the hook sent the stop
        if not self._stopped:
            rospy.logwarn("f1_brain: car stopped: %s", reason)
        self._stopped = True

    def process(self, msg: Image, received_at: float) -> None:
        t0 = time.perf_counter()
        try:
            image = decode_image(msg)
            t1 = time.perf_counter()
            decision = self.brain.step(image, msg.encoding)
        except F1BrainsError as e:
            self._fault(str(e))
            return
        except Exception as e:  # a backend failing mid-run: stop safely and say why
            self._fault(f"{type(e).__name__}: {e}")
            return
        self._last_image = (image, msg.encoding)
        t2 = time.perf_counter()
        twist = self._twist
        twist.linear.x, twist.angular.z = decision.v, decision.w
        now = rospy.Time.now()   # before publishing: a lockstep sim advances its clock once it has the command
        self.pub.publish(twist)
        self._stopped = False
        t3 = time.perf_counter()
        log = self.log
        log.processed += 1
        log.wait.append(t0 - received_at)
        log.decode.append(t1 - t0)
        log.preprocess.append(decision.preprocess_s)
        log.inference.append(decision.inference_s)
        post = decision.postprocess_s + (t3 - t2)
        log.postprocess_publish.append(post)
        log.node_overhead.append((t1 - t0) + decision.preprocess_s + post)
        log.receive_to_command.append(t3 - received_at)
        e2e = None if msg.header.stamp.is_zero() else (now - msg.header.stamp).to_sec()
        if e2e is not None and e2e < 0:   # /clock and the camera are separate topics: the clock may lag the image
            log.clock_behind += 1
            e2e = None                    # not measurable, rather than a negative latency
        if e2e is not None:
            log.end_to_end.append(e2e)
        if self.recorder is not None:
            self.record_odometry()
            self.recorder.add_frame(FrameSample(now.to_sec(), time.monotonic(), decision.v, decision.w,
                                                decision.unclamped_v, decision.unclamped_w, decision.inference_s, e2e,
                                                log.node_overhead[-1], t3 - received_at))

    def _fault(self, reason: str) -> None:
        self.log.faults += 1
        self.pub.publish(Twist())
        self._stopped = True
        rospy.logerr_throttle(2.0, f"f1_brain: safe stop (zero Twist): {reason}")

    def _on_shutdown(self) -> None:
        """rospy's shutdown hook (e.g. rosnode kill): after a frame being answered, so the zero Twist is the last."""
        self.close()
        publish_unless_shut_down(self.pub, Twist())

    def summary(self) -> dict[str, Any]:
        return {"brain": self.brain.describe(), **self.log.summary()}


def format_summary(summary: dict[str, Any]) -> str:
    f, b = summary["frames"], summary["brain"]
    head = (f"brain {b['brain']}: backend {b['backend']} on {b['device']}, first inference "
            f"{b['first_inference_ms']:.1f} ms, {b['warmup']} warm-up runs excluded\n"
            f"frames: received {f['received']}, processed {f['processed']}, skipped {f['skipped']}, "
            f"faults {f['faults']}, silences {f['silences']}; warm-ups {f['warm_ups']} "
            f"({f['during_warm_up']} frames arrived during one)")
    return head + "\n" + format_table(summary["timings"])


def main(argv: list[str] | None = None) -> int:
    """argv: the full command line (default sys.argv), remappings such as __name:= included."""
    rospy.init_node("f1_brain", argv=argv, disable_signals=True)
    stop = stop_requests()
    log_lines_without_the_master()
    faulthandler.enable()   # a crash in native code (a backend, OpenCV) leaves every thread's Python stack in the log
    faulthandler.register(signal.SIGTERM, chain=True)   # a shutdown that hangs shows its threads in the log
    cv2.setNumThreads(1)   # OpenCV's thread pool only fights the inference threads for the cores
    if rospy.has_param("~fatal"):
        rospy.delete_param("~fatal")   # a previous run's, on a master that outlived it
    brain_name = rospy.get_param("~brain", "pilotnet_onnx")
    try:
        brain = load_brain(brain_name, device=rospy.get_param("~device", None),
                           threads=rospy.get_param("~threads", None))
    except F1BrainsError as e:
        return fatal(f"cannot start brain {brain_name!r}: {e}")
    summary_file = rospy.get_param("~summary_file", "")
    out, circuit, bag = rospy.get_param("~out", ""), rospy.get_param("~circuit", ""), rospy.get_param("~reference_bag", "")
    recorder = None
    try:   # refused before the camera is subscribed, rather than found unwritable or unreadable after the lap
        if summary_file:
            check_writable_dir(Path(summary_file).expanduser().parent, "summary_file's directory")
        if out:
            check_writable_dir(out)
        if out and (circuit or bag):
            reference, checkpoints = load_reference(circuit, bag)
            meta = run_metadata(brain.describe(), circuit or bag, rospy.get_param("~run_mode", ""),
                                int(rospy.get_param("~seed", -1)))
            card = getattr(brain, "card", None)
            recorder = LapRecorder(reference, out, meta, float(rospy.get_param("~target_rate", 20.0)), checkpoints,
                                   card.normalize_outputs if card is not None else None)
    except F1BrainsError as e:
        return fatal(str(e))
    node = BrainNode(brain, rospy.get_param("~camera_topic", CAMERA_TOPIC),
                     rospy.get_param("~cmd_vel_topic", CMD_VEL_TOPIC), float(rospy.get_param("~silence_timeout", 1.0)),
                     float(rospy.get_param("~warm_up_lead_ms", 2.0)) / 1e3)
    if recorder is not None:
        node.record_laps(recorder, rospy.get_param("~odom_topic", "/F1ROS/odom"),
                         rospy.get_param("~run_end_topic", "/f1_sim/run_end"))
    try:
        node.spin(stop)
    finally:
        node.close()
        node.stop_car("node shutting down")
        summary = node.summary()
        saved = save_each((node.write_run, lambda: summary_file and write_json_atomic(summary_file, summary)))
        print("\n" + format_summary(summary), flush=True)
        rospy.signal_shutdown("stopped")   # unregister from the master, here and not in a signal handler
    return 0 if saved else 1


def fatal(reason: str) -> int:
    """Log why the node cannot start and leave it in ``~fatal``, where the simulator reads it (its run then ends at
    once with this reason instead of waiting for a brain that will not come); the exit status."""
    rospy.logfatal("f1_brain: %s", reason)
    try:
        rospy.set_param("~fatal", reason)
    except OSError:   # no master to tell
        pass
    return 1


def save_each(writers) -> bool:
    """Run every writer even when one fails (a full disk, or a statistic that cannot be computed, must not cost the
    other files their chance); False if any failed, each failure logged."""
    ok = True
    for write in writers:
        try:
            write()
        except OSError as e:
            rospy.logerr("f1_brain: could not write %s: %s", getattr(e, "filename", None) or "a run file", e.strerror or e)
            ok = False
        except Exception as e:   # noqa: BLE001 (a bug in one writer must not lose the others' files)
            rospy.logerr("f1_brain: could not write a run file: %s: %s", type(e).__name__, e)
            ok = False
    return ok


if __name__ == "__main__":
    sys.exit(main())
