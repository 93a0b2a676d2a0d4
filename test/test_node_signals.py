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


@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM"])
def test_a_signal_mid_lap_ends_the_simulator_with_its_summary_written_and_unregistered(master, tmp_path, stop):
    """roslaunch's SIGINT (SIGTERM after 15 s) while the simulator publishes at full rate: the run ends in its own
    loop, not inside rospy's handler in the middle of a publish (a sim node stopped in a Ray matrix once left no
    summary, the cause not seen)."""
    summary = tmp_path / "sim_summary.json"
    brain = subprocess.Popen([sys.executable, str(REPO / "scripts/brain_node"), "_brain:=explicit"], env=master,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sim = subprocess.Popen([sys.executable, str(REPO / "scripts/sim_node"), "__name:=f1_sim", "_mode:=realtime",
                            "_circuit:=simple_circuit", f"_summary_file:={summary}"], env=master,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "/f1_brain" not in _publishers(master, "/F1ROS/cmd_vel"):
            time.sleep(0.2)
        time.sleep(4.0)   # driving: the brain's first frames answered, the clock published every physics step
        sim.send_signal(getattr(signal, stop))
        output, _ = sim.communicate(timeout=20)
    finally:
        for node in (sim, brain):
            if node.poll() is None:
                node.kill()
    assert sim.returncode == 0, output[-3000:]
    result = json.loads(summary.read_text())
    assert result["end_reason"] == "shut down before the run ended" and result["frames"] > 20, result
    assert "/f1_sim" not in _publishers(master, "/clock")   # it unregistered its topics on the way out


def _publishers(env: dict[str, str], topic: str) -> list[str]:
    import rosgraph
    publishers, _, _ = rosgraph.Master("/test", master_uri=env["ROS_MASTER_URI"]).getSystemState()
    return next((nodes for name, nodes in publishers if name == topic), [])


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


SHUTDOWN_RACE = """
import rospy
from std_msgs.msg import String
from f1_brains.ros.publishing import publish_unless_shut_down
rospy.init_node("publisher_under_shutdown", disable_signals=True)
early = rospy.Publisher("/early", String, queue_size=1)
early.unregister()                          # a topic closed while the node runs: a bug, so it still raises
try:
    publish_unless_shut_down(early, String(data="x"))
    print("early: published")
except rospy.ROSException:
    print("early: raised")
pub = rospy.Publisher("/late", String, queue_size=1)
print("before:", publish_unless_shut_down(pub, String(data="x")))
def in_the_window(reason):   # after rospy's own pre-shutdown hook closed the topics, before is_shutdown() turns true
    print("is_shutdown:", rospy.is_shutdown())
    try:
        pub.publish(String(data="x"))
        print("plain: published")
    except rospy.ROSException:
        print("plain: raised")
    print("in the window:", publish_unless_shut_down(pub, String(data="x")))
rospy.core.add_preshutdown_hook(in_the_window)
rospy.signal_shutdown("a new node of the same name")
"""


def test_publishing_into_a_topic_closed_by_shutdown_lets_the_loop_end(master):
    """The simulator's loops publish between their is_shutdown() checks; rospy closes the topics before that turns
    true, and a simulator replaced by a second launch of the world crashed there with "publish() to a closed topic".
    In that window the call now returns False."""
    out = subprocess.run([sys.executable, "-c", SHUTDOWN_RACE], env=master, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.split("\n")[:5] == ["early: raised", "before: True", "is_shutdown: False", "plain: raised",
                                          "in the window: False"], out.stdout + out.stderr


STALLED_WORLD = """
import json
import time
import rospy
from geometry_msgs.msg import Twist
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image
from f1_brains.core.synthetic import road_frame
rospy.init_node("stalled_world", disable_signals=True)
clock = rospy.Publisher("/clock", Clock, queue_size=1, latch=True)
camera = rospy.Publisher("/F1ROS/cameraL/image_raw", Image, queue_size=1)
commands = []
rospy.Subscriber("/F1ROS/cmd_vel", Twist, lambda m: commands.append((time.monotonic(), m.linear.x, m.angular.z)))
clock.publish(Clock(clock=rospy.Time(10.0)))
deadline = time.monotonic() + 60
while (camera.get_num_connections() == 0 or not rospy.get_param("/test_ready", False)) and time.monotonic() < deadline:
    time.sleep(0.1)
frame = road_frame(0.0)
msg = Image(height=frame.shape[0], width=frame.shape[1], encoding="rgb8", step=frame.shape[1] * 3, data=frame.tobytes())
msg.header.stamp = rospy.Time(10.0)
camera.publish(msg)
time.sleep(3.0)                                           # the world stalls: its clock stays at 10 s
stalled = [c for c in commands]
clock.publish(Clock(clock=rospy.Time(11.5)))              # 1.5 s of the world's time without a frame
time.sleep(2.0)
moving = [c for c in commands if c not in stalled]
print(json.dumps({"stalled": [[v, w] for _, v, w in stalled], "moving": [[v, w] for _, v, w in moving]}))
"""


def test_the_silence_watchdog_counts_the_worlds_time(master, tmp_path):
    """Under /use_sim_time a stalled world (a loaded machine, a paused simulator) moves no car, and a stop sent then
    lands in a lockstep run as the answer to the next frame: a Ray matrix's lap once differed so from the same lap
    run locally. Silence is counted in the world's time: no stop while its clock stands, one once it moved on."""
    import rosgraph
    param = rosgraph.Master("/test", master_uri=master["ROS_MASTER_URI"])
    param.setParam("/use_sim_time", True)
    world = subprocess.Popen([sys.executable, "-c", STALLED_WORLD], env=master, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    brain = subprocess.Popen([sys.executable, str(REPO / "scripts/brain_node"), "_brain:=explicit",
                              "_silence_timeout:=1.0", "_warm_up_lead_ms:=0"], env=master,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while "/f1_brain" not in _publishers(master, "/F1ROS/cmd_vel") and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)   # its subscriptions connected
        param.setParam("/test_ready", True)
        output, _ = world.communicate(timeout=60)
    finally:
        for node in (world, brain):
            if node.poll() is None:
                node.kill()
    seen = json.loads(output.strip().splitlines()[-1])
    assert len(seen["stalled"]) == 1 and seen["stalled"][0] != [0.0, 0.0], output   # its answer, and no stop for 3 s
    assert seen["moving"] == [[0.0, 0.0]], output                                   # the stop, once the clock moved on
