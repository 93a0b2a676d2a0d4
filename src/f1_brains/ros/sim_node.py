"""The simulator's ROS node: the topics of the Gazebo F1 car, two time modes, run end conditions.

Publishes the camera (sensor_msgs/Image rgb8 640x480 + CameraInfo), nav_msgs/Odometry and /clock;
drives the car from geometry_msgs/Twist on the cmd_vel topic as Gazebo's planar-move plugin does
(linear.x, linear.y and angular.z applied at once; ``~max_accel`` > 0 limits acceleration instead). The
car starts at the circuit's spawn pose (the Gazebo world's). ``~mode``:
- realtime: sim time follows the wall clock (x ``~speedup``); a slow brain drives on stale commands.
- lockstep: after each camera frame the sim waits for the brain's command, applies it ``~latency``
  sim-seconds later (modelled, not measured; longer than a period keeps several commands in flight) and advances
  one camera period: reproducible bit for bit.
In realtime mode the car stops when no command came for ``~cmd_timeout`` sim-seconds (default 1.0; 0: never), so
a brain that dies does not leave the car driving its last command into a wall: a departure from Gazebo's
planar-move plugin, which keeps the last command for ever. More than one publisher on cmd_vel is warned about.
The run ends on: hit the wall (off track on a points file without walls), stuck, ``~laps`` completed, ``~timeout``,
(lockstep) a brain silent for ``~brain_timeout`` wall seconds, or, checked each second that commands are missing,
the brain gone: the ROS master unreachable, the node named ``~brain_node`` exited or killed (before its first
command too), or its camera subscription / cmd_vel publication closed. The reason goes to ``~run_end``
(std_msgs/String, latched) and the log; a summary JSON goes to ``~summary_file``; with ``~exit_on_end`` the node
exits (headless runs end), otherwise a reset starts the next run; in realtime mode the world then goes on meanwhile (clock, camera and
odometry keep coming, the car stays where the run ended), as a Gazebo world outlives a run.
``~condition``: a stress condition applied to every camera frame (sim/conditions.py: ``noise:8``, ``blur:2``,
``jpeg:20``, ``dim:0.5``, ``drop:0.3``: frames lost; default none), seeded by ``~condition_seed``, or to the command
path (``latency:100``: each command takes effect 100 ms later than it would, in both modes; ``speed:1.3``: the car
drives at 1.3 times each command's speed, its turn rate as commanded), or to the camera's mount (``yaw:3``,
``pitch:3``: degrees turned left, tilted down).
Services ``~reset``, ``~pause``, ``~unpause`` (std_srvs/Empty); with ``~gazebo_services`` also Gazebo's
``/gazebo/pause_physics``, ``/gazebo/unpause_physics``, ``/gazebo/reset_world`` (back to the start, the clock goes
on) and ``/gazebo/reset_simulation`` (the clock restarts at 0), which BehaviorMetrics calls. ``~world_file``: a
Gazebo world whose physics sets the real-time factor (BehaviorMetrics' RealTimeUpdateRate); ``~stuck_time``,
``~timeout``: 0 for never.
"""
from __future__ import annotations

import faulthandler
import math
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import rospy
from geometry_msgs.msg import Quaternion, Twist
from nav_msgs.msg import Odometry
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import String
from std_srvs.srv import Empty, EmptyResponse

from ..errors import F1BrainsError
from ..sim.cameras import make_camera
from ..sim.command_delay import DelayedCommands
from ..sim.conditions import CameraPerturbation, Condition
from ..sim.kinematics import Accel
from ..sim.renderer import HEIGHT, WIDTH, Appearance, Rig, camera_matrix
from ..sim.renderer_process import RendererCrashed
from ..sim.simulation import PHYSICS_DT, RunLimits, Simulation
from ..util.files import check_writable_dir, write_json_atomic
from ..util.tables import markdown_table
from ..worlds import circuits
from ..worlds.gazebo_world import real_time_factor
from .graph import log_lines_without_the_master, master_alive, node_state, replaced, stop_requests
from .publishing import publish_unless_shut_down

MAX_ABS_COMMAND = 100.0   # |v| m/s or |w| rad/s beyond this is treated as garbage


def _flag(value: Any, name: str) -> bool | None:
    """An optional yes/no parameter (None when unset)."""
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("yes", "true", "1", "no", "false", "0"):
        return str(value).lower() in ("yes", "true", "1")
    raise F1BrainsError(f"{name} must be yes or no, not {value!r}")


def sim_stamp(t: float) -> rospy.Time:
    return rospy.Time.from_sec(t)


class SimNode:
    def __init__(self, stop: threading.Event | None = None) -> None:
        """stop: set by a signal (graph.stop_requests); the run ends as if shut down, its summary written."""
        self._stop = stop or threading.Event()
        p = lambda name, default: rospy.get_param("~" + name, default)  # noqa: E731
        road_width, walls = p("road_width", None), p("walls", None)
        self.track = circuits.load(str(p("circuit", "simple_circuit")),
                                   road_width=float(road_width) if road_width not in (None, "") else None,
                                   walled=_flag(walls, "~walls"))
        seed = int(p("appearance_seed", -1))
        self.condition = Condition.parse(str(p("condition", "none")))
        self.perturbation = CameraPerturbation(self.condition, int(p("condition_seed", 0))) \
            if self.condition.family != "none" else None
        self.renderer_restarts = 0
        self.renderer = make_camera(str(p("circuit", "simple_circuit")), self.track, str(p("renderer", "auto")),
                                    Appearance() if seed < 0 else Appearance.varied(seed),
                                    on_restart=self._renderer_restarted,
                                    rig=self.perturbation.rig if self.perturbation else Rig())
        self.mode = str(p("mode", "lockstep"))
        if self.mode not in ("realtime", "lockstep"):
            raise F1BrainsError(f"~mode must be realtime or lockstep, not {self.mode!r}")
        self.period = 1.0 / float(p("rate", 20.0))
        self.speedup = float(p("speedup", 1.0 if self.mode == "realtime" else 0.0))
        world_file = str(p("world_file", ""))
        if world_file and self.mode == "realtime":
            self.speedup = self._world_speedup(world_file)
        if self.mode == "realtime" and self.speedup <= 0:
            raise F1BrainsError(f"~speedup must be > 0 in realtime mode, not {self.speedup}")
        self.latency = float(p("latency", 0.02))
        # the latency condition: this much more before a command takes effect (lockstep: on top of ~latency)
        added = self.condition.level / 1000 if self.condition.family == "latency" else 0.0
        self.commands = DelayedCommands(self.latency + added if self.mode == "lockstep" else added, (0.0, 0.0, 0.0))
        self.speed_scale = self.condition.level if self.condition.family == "speed" else 1.0   # the speed condition
        self.brain_timeout = float(p("brain_timeout", 20.0))
        self.exit_on_end = bool(p("exit_on_end", True))
        self.summary_file = str(p("summary_file", ""))
        if self.summary_file:   # refused now rather than found unwritable after the run
            check_writable_dir(Path(self.summary_file).expanduser().parent, "~summary_file's directory")
        limits = RunLimits(laps=int(p("laps", 1)), timeout=float(p("timeout", 600.0)),
                           stuck_time=float(p("stuck_time", RunLimits.stuck_time)))
        start_s = p("start_s", None)
        max_accel = float(p("max_accel", 0.0))
        self.sim = Simulation(self.track, limits, start_s=float(start_s) if start_s not in (None, "") else None,
                              reverse=bool(p("reverse", False)),
                              accel=Accel(linear=max_accel, angular=3 * max_accel) if max_accel > 0 else None)

        self.cmd = (0.0, 0.0, 0.0)   # linear.x, angular.z, linear.y
        self.cmd_count = 0
        self.cmd_timeout = float(p("cmd_timeout", 1.0))
        self._cmd_at = 0.0             # sim time of the latest command
        self._timed_out = False
        self._cmd_cond = threading.Condition()
        self.paused = bool(_flag(p("paused", False), "~paused"))
        self._reset_requested = threading.Event()
        self._reset_keeps_time = False
        self.frames = 0
        self.frames_dropped = 0
        self.image = None
        self._had_subscriber = False   # the camera had a subscriber (the brain) when the run started
        self.brain_node = str(p("brain_node", ""))   # watched: its death ends the run with that reason
        self._brain_seen = False

        self.pub_image = rospy.Publisher(p("camera_topic", "/F1ROS/cameraL/image_raw"), Image, queue_size=1)
        self.pub_info = rospy.Publisher(p("camera_info_topic", "/F1ROS/cameraL/camera_info"), CameraInfo, queue_size=1)
        self.pub_odom = rospy.Publisher(p("odom_topic", "/F1ROS/odom"), Odometry, queue_size=10)
        self.pub_clock = rospy.Publisher("/clock", Clock, queue_size=10)
        self.pub_end = rospy.Publisher("~run_end", String, queue_size=1, latch=True)
        self._cmd_sub = rospy.Subscriber(p("cmd_vel_topic", "/F1ROS/cmd_vel"), Twist, self._on_cmd, queue_size=10,
                                         tcp_nodelay=True)
        rospy.Service("~reset", Empty, self._reset)
        rospy.Service("~pause", Empty, lambda _: self._set_paused(True))
        rospy.Service("~unpause", Empty, lambda _: self._set_paused(False))
        if bool(p("gazebo_services", False)):
            rospy.Service("/gazebo/pause_physics", Empty, lambda _: self._set_paused(True))
            rospy.Service("/gazebo/unpause_physics", Empty, lambda _: self._set_paused(False))
            rospy.Service("/gazebo/reset_world", Empty, lambda _: self._reset(_, keep_time=True))
            rospy.Service("/gazebo/reset_simulation", Empty, self._reset)
        self.info = self._camera_info()
        rospy.loginfo("f1_sim: %s (%.0f m), %s mode, %.0f Hz camera, %d lap(s)", self.track.name, self.track.length,
                      self.mode, 1 / self.period, limits.laps)

    # ---- inputs ----

    def _on_cmd(self, msg: Twist) -> None:
        v, w, vy = msg.linear.x, msg.angular.z, msg.linear.y
        if not all(math.isfinite(c) and abs(c) <= MAX_ABS_COMMAND for c in (v, w, vy)):
            rospy.logwarn_throttle(2.0, f"f1_sim: ignoring cmd_vel v={v} vy={vy} w={w}; stopping the car")
            v, w, vy = 0.0, 0.0, 0.0
        v, vy = v * self.speed_scale, vy * self.speed_scale
        with self._cmd_cond:
            self.cmd = (v, w, vy)
            if self.mode == "realtime":
                self.commands.decide(self.cmd)
            self.cmd_count += 1
            self._cmd_at = self.sim.time
            self._cmd_cond.notify_all()

    def realtime_command(self) -> tuple[float, float, float]:
        """The command in force: the latest, or a stop once none came for ``cmd_timeout`` sim-seconds."""
        silent = self.sim.time - self._cmd_at
        if self.cmd_timeout > 0 and self.cmd_count and silent > self.cmd_timeout:
            if not self._timed_out:
                rospy.logwarn("f1_sim: no cmd_vel for %.1f s: stopping the car (~cmd_timeout %.1f s)", silent,
                              self.cmd_timeout)
            self._timed_out = True
            return (0.0, 0.0, 0.0)
        self._timed_out = False
        with self._cmd_cond:
            self.commands.elapse(0.0)   # what has landed by now
            return self.commands.in_force

    def check_publishers(self) -> None:
        """Two brains on one cmd_vel would share the car and the credit for its laps: say so."""
        count = self._cmd_sub.get_num_connections()
        if count > 1:
            rospy.logwarn_throttle(10.0, f"f1_sim: {count} publishers on {self._cmd_sub.resolved_name}: the car "
                                         "obeys whichever spoke last, and lockstep runs are no longer reproducible")

    def brain_gone(self) -> str | None:
        """Why commands stopped, where it shows: the ROS master gone, the brain node (``~brain_node``) gone after it
        was seen, or its connections closed. None when nothing shows (a brain still loading, or just slow)."""
        caller = rospy.get_name()
        if not master_alive(caller):
            return "the ROS master is gone"
        if self.brain_node:
            if failed := rospy.get_param(self.brain_node + "/fatal", ""):
                return f"the brain node {self.brain_node} could not start: {failed}"
            state = node_state(self.brain_node, caller)
            self._brain_seen |= state == "alive"
            if state == "dead" or (state == "absent" and self._brain_seen):   # absent: not started yet, or exited
                return (f"the brain node {self.brain_node} is gone ({'killed' if state == 'dead' else 'exited'}; "
                        "its log says why)")
        if self._had_subscriber and self.pub_image.get_num_connections() == 0:
            return f"the brain is gone: nothing subscribes to {self.pub_image.resolved_name} any more"
        if self.cmd_count and self._cmd_sub.get_num_connections() == 0:
            return f"the brain is gone: nothing publishes on {self._cmd_sub.resolved_name} any more"
        return None

    @staticmethod
    def _world_speedup(world_file: str) -> float:
        factor = real_time_factor(Path(world_file).expanduser())
        if factor <= 0:
            rospy.logwarn("f1_sim: %s asks for 'as fast as possible' (real_time_update_rate 0); realtime mode runs "
                          "at 1x instead (lockstep mode is the fast, reproducible one)", world_file)
            return 1.0
        return factor

    def _reset(self, _req, keep_time: bool = False) -> EmptyResponse:
        self._reset_keeps_time = keep_time
        self._reset_requested.set()   # carried out by the simulation loop, between steps
        return EmptyResponse()

    def _apply_reset(self) -> bool:
        """Reset the run if asked to; True when it happened (the caller re-anchors its pacing)."""
        if not self._reset_requested.is_set():
            return False
        self._reset_requested.clear()
        self.sim.reset(keep_time=self._reset_keeps_time)
        with self._cmd_cond:
            self.cmd = (0.0, 0.0, 0.0)
            self.commands.clear((0.0, 0.0, 0.0))
        rospy.loginfo("f1_sim: reset to the start")
        return True

    def _set_paused(self, paused: bool) -> EmptyResponse:
        self.paused = paused
        rospy.loginfo("f1_sim: %s", "paused" if paused else "running")
        return EmptyResponse()

    def stopping(self) -> bool:
        return self._stop.is_set() or rospy.is_shutdown()

    # ---- outputs ----

    def _camera_info(self) -> CameraInfo:
        info = CameraInfo()
        info.header.frame_id = "F1ROS/cameraL"
        info.width, info.height = WIDTH, HEIGHT
        k = camera_matrix()
        info.K = k.reshape(-1).tolist()
        info.P = [k[0, 0], 0, k[0, 2], 0, 0, k[1, 1], k[1, 2], 0, 0, 0, 1, 0]
        info.R = [1, 0, 0, 0, 1, 0, 0, 0, 1]
        info.D = [0.0] * 5
        info.distortion_model = "plumb_bob"
        return info

    def _renderer_restarted(self, message: str) -> None:
        """The real-mesh renderer's process died and was started again (the world waits for its frame)."""
        rospy.logwarn("f1_sim: %s", message)
        self.renderer_restarts += 1

    def publish_clock(self) -> None:
        publish_unless_shut_down(self.pub_clock, Clock(clock=sim_stamp(self.sim.time)))

    def publish_frame(self) -> None:
        car, stamp = self.sim.car, sim_stamp(self.sim.time)
        if self.perturbation is None:
            self.image = self.renderer.render(car.x, car.y, car.yaw, out=self.image)
        else:
            self.image = self.renderer.render(*self.perturbation.view(car.x, car.y, car.yaw), out=self.image)
            self.perturbation.apply(self.image)
        msg = Image(height=HEIGHT, width=WIDTH, encoding="rgb8", is_bigendian=0, step=WIDTH * 3,
                    data=self.image.tobytes())
        msg.header.stamp, msg.header.frame_id, msg.header.seq = stamp, "F1ROS/cameraL", self.frames
        self.info.header.stamp = stamp
        publish_unless_shut_down(self.pub_image, msg)
        publish_unless_shut_down(self.pub_info, self.info)
        self.publish_odom()
        self.frames += 1

    def frame_dropped(self) -> bool:
        """The condition drop:P lost this period's frame (counted)."""
        dropped = self.perturbation is not None and self.perturbation.drops()
        self.frames_dropped += dropped
        return dropped

    def publish_odom(self) -> None:
        car, stamp = self.sim.car, sim_stamp(self.sim.time)
        odom = Odometry()
        odom.header.stamp, odom.header.frame_id, odom.child_frame_id = stamp, "odom", "xf1"
        odom.pose.pose.position.x, odom.pose.pose.position.y = car.x, car.y
        odom.pose.pose.orientation = Quaternion(0.0, 0.0, math.sin(car.yaw / 2), math.cos(car.yaw / 2))
        odom.twist.twist.linear.x, odom.twist.twist.linear.y, odom.twist.twist.angular.z = car.v, car.vy, car.w
        publish_unless_shut_down(self.pub_odom, odom)

    # ---- time modes ----

    def wait_for_brain(self, timeout: float = 120.0, grace: float = 1.0) -> None:
        """Start when the camera has a subscriber, plus ``grace`` s for its other subscriptions (odometry
        for lap statistics) to connect, so that nobody misses the start of the run."""
        deadline = time.monotonic() + timeout
        next_check = time.monotonic() + 1.0
        while self.pub_image.get_num_connections() == 0 and time.monotonic() < deadline and not self.stopping():
            self.publish_clock()
            time.sleep(0.05)
            if time.monotonic() >= next_check:
                next_check += 1.0
                if gone := self.brain_gone():
                    self.sim.end(gone)
                    return
        self._had_subscriber = self.pub_image.get_num_connections() > 0
        grace_end = time.monotonic() + grace
        while time.monotonic() < grace_end and not self.stopping():
            self.publish_clock()
            time.sleep(0.05)

    def run_realtime(self) -> None:
        wall0, sim0 = time.monotonic(), self.sim.time
        next_frame, next_check = self.sim.time, 0.0
        while not self.stopping() and not self.sim.ended:
            if self._apply_reset():
                wall0, sim0, next_frame = time.monotonic(), self.sim.time, self.sim.time
            if self.paused:
                time.sleep(0.05)
                wall0, sim0 = time.monotonic(), self.sim.time
                continue
            target = sim0 + (time.monotonic() - wall0) * self.speedup
            while self.sim.time + PHYSICS_DT <= target and not self.sim.ended:
                self.sim.advance(PHYSICS_DT, *self.realtime_command())
                with self._cmd_cond:
                    self.commands.elapse(PHYSICS_DT)
            self.publish_clock()
            if self._timed_out and time.monotonic() >= next_check:   # commands stopped: is the brain still there?
                next_check = time.monotonic() + 1.0
                if gone := self.brain_gone():
                    self.sim.end(gone)
                    break
            if self.sim.time >= next_frame and self.frame_dropped():
                self.publish_odom()
                next_frame += self.period
            elif self.sim.time >= next_frame:
                restarts = self.renderer_restarts
                self.publish_frame()
                if self.renderer_restarts != restarts:   # the world stood still while its camera restarted
                    wall0, sim0 = time.monotonic(), self.sim.time
                self.check_publishers()
                next_frame += self.period
            ahead = (self.sim.time + PHYSICS_DT - sim0) / self.speedup - (time.monotonic() - wall0)
            if ahead > 0:
                time.sleep(ahead)

    def run_lockstep(self) -> None:
        resend = 1.0   # s: republish a frame the brain may have missed while starting
        wall0, sim0 = time.monotonic(), self.sim.time
        while not self.stopping() and not self.sim.ended:
            if self._apply_reset():
                wall0, sim0 = time.monotonic(), self.sim.time
            if self.paused:
                time.sleep(0.05)
                continue
            if self.frame_dropped():   # the brain gets nothing this period: the commands in flight go on
                self.publish_odom()
                self.sim.camera_period(self.commands, self.period, at_landing=self.publish_clock)
                continue
            self.check_publishers()
            with self._cmd_cond:
                seen = self.cmd_count
            waited = 0.0
            answered = False
            gone = None
            while not answered and not gone and waited < self.brain_timeout and not self.stopping():
                self.publish_clock()
                self.publish_frame()
                with self._cmd_cond:
                    answered = self._cmd_cond.wait_for(lambda: self.cmd_count > seen, timeout=resend)
                waited += resend
                gone = None if answered else self.brain_gone()
            if not answered:
                self.sim.end(gone or f"brain silent: no command for {self.brain_timeout:.0f} s in lockstep mode")
                break
            self.commands.decide(self.cmd)
            self.sim.camera_period(self.commands, self.period, at_landing=self.publish_clock)
            if self.speedup > 0:   # optional pacing: at most speedup x real time
                ahead = (self.sim.time - sim0) / self.speedup - (time.monotonic() - wall0)
                if ahead > 0:
                    time.sleep(ahead)

    def run(self) -> dict[str, Any]:
        """Run until the run ends; without ``~exit_on_end``, a reset then starts the next run."""
        self.wait_for_brain()
        while True:
            summary = self._run_once()
            if self.exit_on_end:
                return summary
            self.wait_for_reset()
            if self.stopping():
                return summary

    def wait_for_reset(self) -> None:
        """Between runs: in realtime mode the world goes on (clock, frames, odometry; the car stays where the run
        ended) until a reset, as a Gazebo world does; lockstep's clock waits with the brain."""
        if self.mode != "realtime":
            while not self._reset_requested.wait(0.1) and not self.stopping():
                pass
            return
        wall0, sim0, next_frame = time.monotonic(), self.sim.time, self.sim.time
        while not self._reset_requested.is_set() and not self.stopping():
            if self.paused:
                time.sleep(0.05)
                wall0, sim0 = time.monotonic(), self.sim.time
                continue
            self.sim.hold(sim0 + (time.monotonic() - wall0) * self.speedup - self.sim.time)
            self.publish_clock()
            if self.sim.time >= next_frame:
                self.publish_frame()
                next_frame += self.period
            time.sleep(min(PHYSICS_DT * 10, self.period) / self.speedup)

    def _run_once(self) -> dict[str, Any]:
        self._apply_reset()   # a reset that ended the wait between runs
        wall0, frames0, restarts0, dropped0 = time.monotonic(), self.frames, self.renderer_restarts, self.frames_dropped
        try:
            (self.run_lockstep if self.mode == "lockstep" else self.run_realtime)()
        except RendererCrashed as e:
            self.sim.end(f"camera failed: {e}")
        taken_over = replaced(rospy.get_name(), rospy.core.get_node_uri())
        if not self.sim.ended:
            self.sim.end("replaced by a new node of the same name" if taken_over else
                         "shut down before the run ended" if master_alive(rospy.get_name()) else
                         "the ROS master is gone")
        self.publish_clock()
        self.publish_odom()   # where the run ended (e.g. across the finish line)
        summary = {**self.sim.summary(), "mode": self.mode, "condition": str(self.condition),
                   "frames": self.frames - frames0, "frames_dropped": self.frames_dropped - dropped0,
                   "wall_time_s": time.monotonic() - wall0, "renderer_restarts": self.renderer_restarts - restarts0}
        publish_unless_shut_down(self.pub_end, String(data=self.sim.end_reason))
        if taken_over:   # not to /rosout: a log call now would register our name again and stop the new node
            print(f"f1_sim: run ended: {self.sim.end_reason}", file=sys.stderr, flush=True)
        else:
            rospy.loginfo("f1_sim: run ended: %s", self.sim.end_reason)
        if self.summary_file:
            write_json_atomic(self.summary_file, summary)
        print("\n" + format_run(summary), flush=True)
        return summary


def format_run(summary: dict[str, Any]) -> str:
    lines = [f"{summary['circuit']} ({summary['circuit_length_m']:.0f} m), {summary['mode']} mode: "
             f"{summary['end_reason']} after {summary['sim_time_s']:.1f} s sim, {summary['wall_time_s']:.1f} s wall, "
             f"{summary['frames']} frames" + (f", renderer restarted {summary['renderer_restarts']} time(s)"
                                               if summary.get("renderer_restarts") else "")]
    rows = [[i, f"{lap['lap_time']:.2f}", f"{lap['distance']:.1f}", f"{lap['distance'] / lap['lap_time']:.2f}",
             f"{lap['mean_abs_offset']:.3f}", f"{lap['max_abs_offset']:.3f}"] for i, lap in enumerate(summary["laps"], 1)]
    if not summary["laps"]:
        rows.append(["-", f"no lap completed ({summary['progress_m']:.0f} m driven along the line)", "", "", "", ""])
    header = ["lap", "time s", "distance m", "avg speed m/s", "mean abs offset m", "max abs offset m"]
    return "\n".join(lines) + "\n" + markdown_table(header, rows).rstrip("\n")


def main() -> int:
    rospy.init_node("f1_sim", disable_signals=True)
    stop = stop_requests()
    log_lines_without_the_master()
    faulthandler.enable()   # a crash in native code (OpenGL, OpenCV) leaves every thread's Python stack in the log
    faulthandler.register(signal.SIGTERM, chain=True)   # a shutdown that hangs shows its threads in the log
    cv2.setNumThreads(1)
    try:
        node = SimNode(stop)
    except F1BrainsError as e:
        rospy.logfatal("f1_sim: %s", e)
        return 1
    try:
        node.run()
    finally:
        rospy.signal_shutdown("stopped")   # here, between publishes, not inside a signal handler
    return 0
