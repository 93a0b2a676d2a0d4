#!/usr/bin/env python3
"""rostest checks of the simulator's inputs (sim_inputs.test)."""
import math
import subprocess
import threading
import time
import unittest

import rospy
import rostest
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rosgraph_msgs.msg import Log
from sensor_msgs.msg import Image
from std_msgs.msg import String
from std_srvs.srv import Empty


def twist(v: float, w: float, vy: float = 0.0) -> Twist:
    t = Twist()
    t.linear.x, t.linear.y, t.angular.z = v, vy, w
    return t


class SimInputChecks(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        rospy.init_node("sim_input_checks")
        cls.odom: list[Odometry] = []
        rospy.Subscriber("/rt/odom", Odometry, cls.odom.append, queue_size=100)
        rospy.Subscriber("/rt/camera", Image, lambda m: None, queue_size=1)   # a subscriber starts the sim
        cls.cmd = rospy.Publisher("/rt/cmd_vel", Twist, queue_size=1)
        deadline = time.monotonic() + 60
        while (not cls.odom or cls.cmd.get_num_connections() == 0) and time.monotonic() < deadline:
            time.sleep(0.05)

    def setUp(self) -> None:
        rospy.ServiceProxy("/f1_sim/reset", Empty)()   # each check starts a fresh run at the start line
        time.sleep(0.3)

    def drive(self, v: float, w: float, seconds: float, vy: float = 0.0) -> Odometry:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.cmd.publish(twist(v, w, vy))
            time.sleep(0.05)
        return self.odom[-1]

    def test_1_commands_move_the_car(self):
        last = self.drive(5.0, 0.0, 1.5)
        self.assertAlmostEqual(last.twist.twist.linear.x, 5.0, places=3)

    def test_1b_linear_y_moves_the_car_sideways(self):
        """Gazebo's planar move honours linear.y: at simple_circuit's spawn (facing -y) left is +x."""
        start = self.odom[-1].pose.pose.position
        last = self.drive(0.0, 0.0, 1.0, vy=0.5)
        self.assertAlmostEqual(last.twist.twist.linear.y, 0.5, places=3)
        self.assertGreater(last.pose.pose.position.x - start.x, 0.3)
        self.assertLess(abs(last.pose.pose.position.y - start.y), 0.05)

    def test_2_nan_and_huge_commands_stop_the_car(self):
        for bad in (twist(float("nan"), 0.0), twist(0.0, float("inf")), twist(1e6, 0.0)):
            self.drive(5.0, 0.0, 1.0)
            end = time.monotonic() + 1.5
            while time.monotonic() < end:
                self.cmd.publish(bad)
                time.sleep(0.05)
            self.assertEqual(self.odom[-1].twist.twist.linear.x, 0.0, f"still moving after {bad}")

    def test_3_reset_returns_to_the_start_and_pause_stops_time(self):
        """Also after the run has ended: driving straight into a bend hits the wall."""
        ended = []
        rospy.Subscriber("/f1_sim/run_end", String, lambda m: ended.append(m.data))
        self.drive(5.0, 0.0, 12.0)   # the wall after about 38 m
        self.assertTrue(ended and ended[-1].startswith("hit the wall"), ended)
        self.drive(5.0, 0.0, 1.0)
        before = len(self.odom)
        rospy.ServiceProxy("/f1_sim/reset", Empty)()
        time.sleep(0.3)
        p, start = self.odom[-1].pose.pose.position, self.odom[0].pose.pose.position
        distance = math.hypot(p.x - start.x, p.y - start.y)
        self.assertLess(distance, 1.0, f"{distance:.2f} m from the start after reset ({len(self.odom) - before} odom since)")
        rospy.ServiceProxy("/f1_sim/pause", Empty)()
        time.sleep(0.3)
        n = len(self.odom)
        time.sleep(1.0)
        self.assertEqual(len(self.odom), n, "odom kept coming while paused")
        rospy.ServiceProxy("/f1_sim/unpause", Empty)()
        time.sleep(0.5)
        self.assertGreater(len(self.odom), n)

    def test_4_lockstep_run_ends_when_the_brain_is_silent(self):
        ended, reason = threading.Event(), []
        rospy.Subscriber("/f1_sim_silent/run_end", String, lambda m: (reason.append(m.data), ended.set()))
        rospy.Subscriber("/ls/camera", Image, lambda m: None, queue_size=1)   # looks like a brain, never answers
        self.assertTrue(ended.wait(30), "a lockstep run with a silent brain never ended")
        self.assertIn("brain silent", reason[0])

    def test_5_realtime_car_stops_when_commands_stop(self):
        """A brain that dies mid-run: after ~cmd_timeout (1 s) without a command the car stands still."""
        moving = self.drive(5.0, 0.0, 1.0)
        self.assertAlmostEqual(moving.twist.twist.linear.x, 5.0, places=3)
        at = moving.pose.pose.position
        time.sleep(3.0)            # no command any more
        last = self.odom[-1]
        self.assertEqual(last.twist.twist.linear.x, 0.0)
        travelled = math.hypot(last.pose.pose.position.x - at.x, last.pose.pose.position.y - at.y)
        self.assertLess(travelled, 5.0 * 1.3, f"{travelled:.1f} m driven after the last command")

    def test_6_a_second_cmd_vel_publisher_is_warned_about(self):
        warnings = []
        rospy.Subscriber("/rosout", Log, lambda m: warnings.append(m.msg) if "publishers on" in m.msg else None)
        intruder = subprocess.Popen(["rostopic", "pub", "-r", "20", "/rt/cmd_vel", "geometry_msgs/Twist",
                                     "{linear: {x: 1.0}}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:   # a second node on cmd_vel (two publishers of one node share one connection)
            deadline = time.monotonic() + 20
            while not warnings and time.monotonic() < deadline:
                self.cmd.publish(twist(1.0, 0.0))
                time.sleep(0.05)
        finally:
            intruder.terminate()
            intruder.wait(10)
        self.assertTrue(warnings and "2 publishers on /rt/cmd_vel" in warnings[0], warnings)


if __name__ == "__main__":
    rostest.rosrun("f1_brains", "sim_input_checks", SimInputChecks)
