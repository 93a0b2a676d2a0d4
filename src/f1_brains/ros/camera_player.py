"""Publishes camera frames at a fixed rate: PNG files from a directory (DeepLearningStudio datasets
store frames so) or synthetic road frames. A stand-in camera for tests and for runs without a simulator.

Parameters: ``~topic``, ``~rate`` (Hz), ``~frames`` (0: forever), ``~source`` (PNG directory; empty:
synthetic), ``~encoding`` (rgb8 or bgr8), ``~wait_for_subscriber`` (s to wait for a subscriber first), ``~linger``
(s to stay up after the last frame, so a busy subscriber still gets the newest one). Exits when ``~frames`` have
been sent.
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import rospy
from cv_bridge import CvBridge
from sensor_msgs.msg import Image

from ..core.synthetic import road_frames
from .topics import CAMERA_TOPIC


def load_frames(source: str) -> list[np.ndarray]:
    """rgb8 frames: the PNGs of ``source`` in name order, or 200 synthetic ones."""
    if not source:
        return road_frames(200)
    files = sorted(Path(source).glob("*.png"))
    if not files:
        raise FileNotFoundError(f"no PNG files in {source}")
    return [cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB) for f in files]


def main(argv: list[str] | None = None) -> int:
    """argv: the full command line (default sys.argv), remappings such as __name:= included."""
    rospy.init_node("camera_player", argv=argv)
    topic = rospy.get_param("~topic", CAMERA_TOPIC)
    rate_hz = float(rospy.get_param("~rate", 20.0))
    count = int(rospy.get_param("~frames", 0))
    encoding = rospy.get_param("~encoding", "rgb8")
    try:
        frames = load_frames(rospy.get_param("~source", ""))
    except (FileNotFoundError, cv2.error) as e:
        rospy.logfatal("camera_player: %s", e)
        return 1
    bridge = CvBridge()
    msgs = []
    for frame in frames:
        msg = bridge.cv2_to_imgmsg(frame if encoding == "rgb8" else frame[..., ::-1].copy(), encoding=encoding)
        msg.header.frame_id = "F1ROS/cameraL"
        msgs.append(msg)
    pub = rospy.Publisher(topic, Image, queue_size=1)
    wait_s = float(rospy.get_param("~wait_for_subscriber", 60.0))
    deadline = rospy.Time.now() + rospy.Duration(wait_s)
    while pub.get_num_connections() == 0 and rospy.Time.now() < deadline and not rospy.is_shutdown():
        rospy.sleep(0.05)   # a brain still loading its model would miss the first frames
    rospy.loginfo("camera_player: %d frames at %.1f Hz on %s", count, rate_hz, topic)
    rate = rospy.Rate(rate_hz)
    sent = 0
    while not rospy.is_shutdown() and (count == 0 or sent < count):
        msg = msgs[sent % len(msgs)]
        msg.header.stamp = rospy.Time.now()
        msg.header.seq = sent
        pub.publish(msg)
        sent += 1
        rate.sleep()
    rospy.loginfo("camera_player: sent %d frames", sent)
    if not rospy.is_shutdown():
        rospy.sleep(float(rospy.get_param("~linger", 1.0)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
