#!/usr/bin/env python3
"""A stand-in for BehaviorMetrics' pilot: BM-shaped sensors and actuators on real ROS topics, our BM brain
module imported from its file, ``execute()`` every PilotTimeCycle ms until the simulator ends the run; then
what BM's metrics would read from the brain, written to ``~out`` (JSON).

Written from BM's documented contract (REFERENCE.md section 2), not from its code. One difference: BM's motors
publish from a timer thread; these publish when a (v, w) pair is complete, so the lockstep simulator steps
once per execute() and the lap is reproducible.
"""
import importlib.util
import json
import math
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import rospy
from cv_bridge import CvBridge
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from sensor_msgs.msg import Image
from std_msgs.msg import String

REPO = Path(__file__).resolve().parents[2]
POSE_FIELDS = ("x", "y", "z", "yaw", "pitch", "roll", "timeStamp")


class CameraImage:
    def __init__(self, data, stamp=0.0):
        self.data, self.timeStamp = data, stamp
        self.height, self.width = data.shape[:2]


class Camera:
    """getImage().data: the newest frame as 480x640x3 RGB (a 3x3x3 zero array before the first)."""

    def __init__(self, topic):
        self._bridge, self._lock = CvBridge(), threading.Lock()
        self._image = CameraImage(np.zeros((3, 3, 3), np.uint8))
        self.total_frames = 0
        self._sub = rospy.Subscriber(topic, Image, self._on_image, queue_size=1, buff_size=1 << 24)

    def _on_image(self, msg):
        image = CameraImage(self._bridge.imgmsg_to_cv2(msg, "rgb8"), msg.header.stamp.to_sec())
        with self._lock:
            self._image = image
            self.total_frames += 1

    def getImage(self):
        with self._lock:
            return self._image


class Pose3d:
    """getPose3d(): x, y, z, yaw, pitch, roll, timeStamp of the newest odometry."""

    def __init__(self, topic):
        self._pose = None
        rospy.Subscriber(topic, Odometry, self._on_odom, queue_size=1)

    def _on_odom(self, msg):
        p, q = msg.pose.pose.position, msg.pose.pose.orientation
        yaw = math.atan2(2 * (q.w * q.z + q.x * q.y), 1 - 2 * (q.y ** 2 + q.z ** 2))
        self._pose = dict(zip(POSE_FIELDS, (p.x, p.y, p.z, yaw, 0.0, 0.0, msg.header.stamp.to_sec())))

    def getPose3d(self):
        return SimpleNamespace(**(self._pose or dict.fromkeys(POSE_FIELDS, 0.0)))


class Motors:
    def __init__(self, topic, max_v, max_w):
        self._pub = rospy.Publisher(topic, Twist, queue_size=1)
        self._max_v, self._max_w, self._v = max_v, max_w, 0.0

    def sendV(self, v):
        self._v = v

    def sendW(self, w):
        twist = Twist()
        twist.linear.x, twist.angular.z = self._v, w
        self._pub.publish(twist)

    def getMaxV(self):
        return self._max_v

    def getMaxW(self):
        return self._max_w


class Sensors:
    def __init__(self):
        self._cameras = {"camera_0": Camera("/F1ROS/cameraL/image_raw")}
        self._poses = {"pose3d_0": Pose3d("/F1ROS/odom")}

    def get_camera(self, name):
        return self._cameras[name]

    def get_pose3d(self, name):
        return self._poses[name]


class Actuators:
    def __init__(self, max_v, max_w):
        self._motors = {"motors_0": Motors("/F1ROS/cmd_vel", max_v, max_w)}

    def get_motor(self, name):
        return self._motors[name]


def load_brain_module(path):
    spec = importlib.util.spec_from_file_location(Path(path).stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def describe(value):
    if isinstance(value, np.ndarray):
        return {"type": "ndarray", "shape": list(value.shape), "dtype": str(value.dtype)}
    if isinstance(value, list):
        return {"type": "list", "len": len(value), "item_types": sorted({type(v).__name__ for v in value})}
    return {"type": type(value).__name__, "value": value}


def main():
    rospy.init_node("bm_pilot")
    cycle_ms = float(rospy.get_param("~pilot_time_cycle", 50))
    out = rospy.get_param("~out")
    ended = []
    rospy.Subscriber("/f1_sim/run_end", String, lambda m: ended.append(m.data), queue_size=1)
    sensors = Sensors()
    actuators = Actuators(float(rospy.get_param("~max_v", 24.0)), float(rospy.get_param("~max_w", 7.1)))
    config = {"GPU": False, "UseOptimized": True}   # what a BM YAML's Parameters carry besides Model
    brain = load_brain_module(str(REPO / "brains/brain_f1_brains.py")).Brain(
        sensors, actuators, model=rospy.get_param("~model"), handler=None, config=config)

    execute_s, deadline = [], time.monotonic() + float(rospy.get_param("~max_wall", 300))
    while not ended and not rospy.is_shutdown() and time.monotonic() < deadline:
        t0 = time.perf_counter()
        brain.execute()
        elapsed = time.perf_counter() - t0
        execute_s.append(elapsed)
        if elapsed * 1000 < cycle_ms:
            time.sleep((cycle_ms - elapsed * 1000) / 1000)

    times = brain.inference_times
    report = {
        "end_reason": ended[0] if ended else "pilot timed out",
        "executes": len(execute_s), "faults": brain.faults, "waiting": brain.waiting,
        "camera_frames": sensors.get_camera("camera_0").total_frames,
        "pose": vars(sensors.get_pose3d("pose3d_0").getPose3d()),
        "attributes": {name: describe(getattr(brain, name)) for name in
                       ("inference_times", "gpu_inference", "first_image", "suddenness_distance")},
        # BM's own formulas over the attributes it reads (REFERENCE.md section 4)
        "bm_metrics": {"mean_inference_time": float(np.mean(times[10:-10])),
                       "suddenness_distance": float(np.mean(brain.suddenness_distance)),
                       "brain_iterations_frequency_real_time": 1 / float(np.mean(execute_s)),
                       "gpu_inference": brain.gpu_inference},
        "brain": {k: v for k, v in brain.describe().items() if k in ("brain", "backend", "device", "artifact")},
    }
    Path(out).write_text(json.dumps(report, indent=1, default=str))
    rospy.loginfo("bm_pilot: %s after %d executes; report in %s", report["end_reason"], len(execute_s), out)


if __name__ == "__main__":
    main()
