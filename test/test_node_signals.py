"""The brain node under signals and load: SIGINT or SIGTERM ends it with its summary written (it handles them in
its own loop, not inside rospy's handler, which once deadlocked on the /rosout publisher's lock), and a registered
node that is slow to answer (a brain importing TensorFlow on a loaded machine) is busy, not dead."""
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, free_port, ros_env


@pytest.fixture
def master(tmp_path):
    port = free_port()
    env = {**ros_env(tmp_path), "ROS_MASTER_URI": f"http://127.0.0.1:{port}"}
    proc = subprocess.Popen(["rosmaster", "--core", "-p", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    import rosgraph
    deadline = time.monotonic() + 30
    while not rosgraph.is_master_online(env["ROS_MASTER_URI"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    yield env
    proc.terminate()
    proc.wait(timeout=10)


@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM"])
def test_a_signal_ends_the_brain_node_with_its_summary_written(master, tmp_path, stop):
    summary = tmp_path / "brain_summary.json"
    node = subprocess.Popen([sys.executable, str(REPO / "scripts/brain_node"), "_brain:=explicit",
                             f"_summary_file:={summary}"], env=master,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        import rosgraph
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:   # running: registered with the master
            try:
                rosgraph.Master("/test", master_uri=master["ROS_MASTER_URI"]).lookupNode("/f1_brain")
                break
            except rosgraph.MasterError:
                time.sleep(0.2)
        time.sleep(1.0)
        node.send_signal(getattr(signal, stop))
        output, _ = node.communicate(timeout=20)
    finally:
        if node.poll() is None:
            node.kill()
    assert node.returncode == 0, output[-3000:]
    assert json.loads(summary.read_text())["brain"]["brain"] == "explicit"
    assert "frames: received 0" in output


def test_a_registered_node_that_does_not_answer_in_time_is_busy_and_a_closed_port_is_dead(master):
    import os

    import rosgraph
    from f1_brains.ros.graph import node_state
    os.environ["ROS_MASTER_URI"] = master["ROS_MASTER_URI"]
    listening = socket.socket()   # accepts connections (the kernel's backlog) and never answers: a node busy loading
    listening.bind(("127.0.0.1", 0))
    listening.listen(8)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()                # nothing listens here any more: a node killed before it could unregister
    for name, port in (("/busy", listening.getsockname()[1]), ("/killed", closed_port)):
        rosgraph.Master(name).registerPublisher("/chatter", "std_msgs/String", f"http://127.0.0.1:{port}/")
    try:
        assert node_state("/busy", "/test") == "alive"
        assert node_state("/killed", "/test") == "dead"
        assert node_state("/never_started", "/test") == "absent"
    finally:
        listening.close()
        del os.environ["ROS_MASTER_URI"]
