#!/usr/bin/env python3
"""Checks run by rostest (test/ros/brain_node.test) against live brain nodes."""
import subprocess
import threading
import time
import unittest

import numpy as np
import rospy
import rostest
from cv_bridge import CvBridge
from geometry_msgs.msg import Twist
from sensor_msgs.msg import Image

from f1_brains.core.synthetic import road_frames

RATE_HZ = 20.0


def is_zero(t: Twist) -> bool:
    return t.linear.x == 0 and t.linear.y == 0 and t.linear.z == 0 and t.angular.z == 0


class Listener:
    def __init__(self, topic: str) -> None:
        self.msgs: list[tuple[float, Twist]] = []
        self.lock = threading.Lock()
        self.sub = rospy.Subscriber(topic, Twist, self._cb, queue_size=100)

    def _cb(self, msg: Twist) -> None:
        with self.lock:
            self.msgs.append((time.monotonic(), msg))

    def since(self, t0: float) -> list[Twist]:
        with self.lock:
            return [m for t, m in self.msgs if t >= t0]

    def wait_for(self, t0: float, predicate, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(predicate(m) for m in self.since(t0)):
                return True
            time.sleep(0.02)
        return False


class BrainNodeChecks(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        rospy.init_node("brain_node_checks")
        cls.bridge = CvBridge()
        cls.frames = road_frames(20, seed=2)
        cls.cam = rospy.Publisher("/test/camera", Image, queue_size=1)
        cls.nan_cam = rospy.Publisher("/test_nan/camera", Image, queue_size=1)
        cls.cmd = Listener("/test/cmd_vel")
        cls.nan_cmd = Listener("/test_nan/cmd_vel")
        deadline = time.monotonic() + 120   # the brains load their models first
        while time.monotonic() < deadline and (cls.cam.get_num_connections() == 0 or cls.nan_cam.get_num_connections() == 0
                                               or cls.cmd.sub.get_num_connections() == 0):
            time.sleep(0.1)
        time.sleep(0.5)

    def image(self, i: int = 0, encoding: str = "rgb8", shape=None) -> Image:
        frame = self.frames[i % len(self.frames)]
        if shape is not None:
            frame = np.zeros(shape, np.uint8)
        msg = self.bridge.cv2_to_imgmsg(frame, encoding=encoding)
        msg.header.stamp = rospy.Time.now()
        return msg

    def stream(self, pub, n: int) -> None:
        rate = rospy.Rate(RATE_HZ)
        for i in range(n):
            pub.publish(self.image(i))
            rate.sleep()

    def test_1_stream_of_images_becomes_twists_at_the_camera_rate(self):
        t0 = time.monotonic()
        self.stream(self.cam, 60)
        time.sleep(0.3)
        twists = [m for m in self.cmd.since(t0) if not is_zero(m)]
        # One command per frame: the brain keeps up with a 20 Hz camera (a few may be lost at start-up).
        self.assertGreaterEqual(len(twists), 57, f"{len(twists)} commands for 60 frames")
        self.assertLessEqual(len(twists), 60)
        for t in twists:
            self.assertTrue(0 <= t.linear.x <= 24.0 and abs(t.angular.z) <= 7.1, t)
        # rospy reads this before every /rosout line and asks the master while it is unset: the node sets it
        self.assertIs(rospy.get_param("/rosout_disable_topics_generation"), False)

    def test_2_bad_encoding_stops_the_car_and_the_node_recovers(self):
        t0 = time.monotonic()
        self.cam.publish(self.image(encoding="mono8", shape=(480, 640)))
        self.assertTrue(self.cmd.wait_for(t0, is_zero), "no zero Twist after a mono8 image")
        t1 = time.monotonic()
        self.cam.publish(self.image(3))
        self.assertTrue(self.cmd.wait_for(t1, lambda m: not is_zero(m)), "no command after a good frame")

    def test_3_wrong_image_size_stops_the_car(self):
        self.stream(self.cam, 3)
        t0 = time.monotonic()
        self.cam.publish(self.image(shape=(240, 320, 3)))
        self.assertTrue(self.cmd.wait_for(t0, is_zero), "no zero Twist after a 320x240 image")

    def test_4_silent_camera_stops_the_car(self):
        self.stream(self.cam, 5)
        t0 = time.monotonic()
        self.assertTrue(self.cmd.wait_for(t0, is_zero, timeout=3.0), "no zero Twist after the camera fell silent")
        stopped_after = next(t for t, m in self.cmd.msgs if t >= t0 and is_zero(m)) - t0
        self.assertGreater(stopped_after, 0.3)   # not before the 0.5 s timeout (minus the last frame's age)

    def test_5_a_frame_sent_again_with_its_stamp_is_answered_once(self):
        frame = self.image(4)
        t0 = time.monotonic()
        self.cam.publish(frame)
        self.assertTrue(self.cmd.wait_for(t0, lambda m: not is_zero(m)), "no command for the frame")
        time.sleep(0.1)
        t1 = time.monotonic()
        self.cam.publish(frame)          # the lockstep simulator's resend: same stamp
        time.sleep(0.4)
        self.assertEqual([m for m in self.cmd.since(t1) if not is_zero(m)], [], "a repeated frame was answered")
        t2 = time.monotonic()
        self.cam.publish(self.image(4))  # the same pixels with a new stamp: a new frame
        self.assertTrue(self.cmd.wait_for(t2, lambda m: not is_zero(m)), "no command for a newly stamped frame")

    def test_5_nan_output_stops_the_car(self):
        t0 = time.monotonic()
        self.stream(self.nan_cam, 5)
        self.assertTrue(self.nan_cmd.wait_for(t0, is_zero), "no zero Twist from the NaN brain")
        self.assertFalse(any(not is_zero(m) for m in self.nan_cmd.since(t0)), "NaN brain sent a motion command")

    def test_6_shutdown_sends_a_zero_twist(self):
        self.stream(self.cam, 5)
        self.assertFalse(is_zero(self.cmd.since(0)[-1]))
        t0 = time.monotonic()
        subprocess.run(["rosnode", "kill", "/f1_brain"], check=True, capture_output=True, timeout=30)
        self.assertTrue(self.cmd.wait_for(t0, is_zero, timeout=10.0), "no zero Twist at shutdown")


if __name__ == "__main__":
    rostest.rosrun("f1_brains", "brain_node_checks", BrainNodeChecks)
