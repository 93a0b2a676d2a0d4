"""Is a node there? Asked of the ROS master and of the node itself, as `rosnode ping` does."""
from __future__ import annotations

import http.client
import signal
import socket
import threading
import xmlrpc.client

import rosgraph
import rospy

ANSWER_TIMEOUT = 2.0   # s: a registered node slower than this to answer its API is busy (loading, say), not dead


class _TimeoutTransport(xmlrpc.client.Transport):
    def make_connection(self, host):
        connection = super().make_connection(host)
        connection.timeout = ANSWER_TIMEOUT
        return connection


def master_alive(caller: str) -> bool:
    try:
        rosgraph.Master(caller).getPid()
        return True
    except OSError:   # connection refused or reset: the master is gone
        return False


ROSOUT_TOPICS_PARAM = "/rosout_disable_topics_generation"


def log_lines_without_the_master() -> None:
    """Set the parameter rospy reads before every line it logs to /rosout, where nobody has. While it is unset, rospy
    (ros_comm 1.15) asks the master for it on every log line: a node whose master was shutting down hung in its last
    warning until roslaunch killed it, its summary unwritten. Once set, rospy reads its own cached copy."""
    if not rospy.has_param(ROSOUT_TOPICS_PARAM):
        rospy.set_param(ROSOUT_TOPICS_PARAM, False)


def replaced(name: str, own_uri: str) -> bool:
    """Whether the master now lists another node under our ``name``: a second launch of the same node took it over
    (BehaviorMetrics launches its world again for every run while the last launch still runs). Such a node must
    not call the master again: any registration under the name (rospy's first log line to /rosout after shutdown
    subscribes a parameter) makes the master shut down the new node in turn."""
    try:
        return rosgraph.Master(name).lookupNode(name) != own_uri
    except (rosgraph.MasterError, OSError):   # not registered, or no master
        return False


def node_state(name: str, caller: str) -> str:
    """'absent' (the master has no such node), 'alive' (its API answers, or is there but slow: a node importing
    TensorFlow holds the GIL for seconds), or 'dead' (registered, its API port closed: killed before it could
    unregister). OSError when the master itself cannot be reached."""
    try:
        uri = rosgraph.Master(caller).lookupNode(name)
    except rosgraph.MasterError:
        return "absent"
    try:
        xmlrpc.client.ServerProxy(uri, transport=_TimeoutTransport()).getPid(caller)
        return "alive"
    except (socket.timeout, TimeoutError):   # busy, not gone: a loaded machine once ended a run as "killed" here
        return "alive"
    except (OSError, http.client.HTTPException, xmlrpc.client.Error):
        return "dead"


def stop_requests() -> threading.Event:
    """SIGINT (roslaunch's stop, Ctrl-C) and SIGTERM as a flag the node's own loop reads; for nodes started with
    ``rospy.init_node(..., disable_signals=True)``. rospy's handler shuts the node down inside the signal handler, in
    whatever the main thread was doing: in a log line to /rosout it holds the publisher's lock, its shutdown then waits
    for that lock in the same thread, and roslaunch SIGKILLed the brain node, its summary unwritten (seen in a lockstep
    matrix). The loop then calls rospy.signal_shutdown itself, outside any lock."""
    requested = threading.Event()

    def request(signum: int, frame: object) -> None:
        requested.set()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, request)
    return requested
