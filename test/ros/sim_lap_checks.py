#!/usr/bin/env python3
"""rostest checks: a lockstep lap on the simulator, watched through its real topics."""
import math
import threading
import time
import unittest

import rospy
import rostest
from nav_msgs.msg import Odometry
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import String


class SimLapChecks(unittest.TestCase):
    def test_explicit_brain_completes_a_lockstep_lap(self):
        rospy.init_node("sim_lap_checks")
        ended, odom, info = threading.Event(), [], []
        reason = []
        rospy.Subscriber("/f1_sim/run_end", String, lambda m: (reason.append(m.data), ended.set()))
        rospy.Subscriber("/F1ROS/odom", Odometry, odom.append, queue_size=100)
        rospy.Subscriber("/F1ROS/cameraL/camera_info", CameraInfo, info.append, queue_size=10)
        self.assertTrue(ended.wait(240), "the run did not end")
        self.assertEqual(reason[0], "completed 1 lap(s)")
        time.sleep(0.2)
        self.assertGreater(len(odom), 700)    # 20 Hz over a ~45 s lap
        stamps = [m.header.stamp.to_sec() for m in odom]
        self.assertTrue(all(b > a for a, b in zip(stamps, stamps[1:])), "odom stamps must increase (sim time)")
        self.assertGreater(stamps[-1], 35.0)
        first = odom[0].pose.pose        # the spawn pose of CustomRobots' simple_circuit.world
        yaw = 2 * math.atan2(first.orientation.z, first.orientation.w)
        self.assertEqual((round(first.position.x, 3), round(first.position.y, 3), round(yaw, 3)),
                         (53.462, -10.734, -1.57))
        self.assertEqual((odom[-1].header.frame_id, odom[-1].child_frame_id), ("odom", "xf1"))
        self.assertEqual((info[-1].width, info[-1].height), (640, 480))
        self.assertAlmostEqual(info[-1].K[0], 320 / 0.99920, places=0)   # fx for a 1.57 rad horizontal FOV


if __name__ == "__main__":
    rostest.rosrun("f1_brains", "sim_lap_checks", SimLapChecks)
