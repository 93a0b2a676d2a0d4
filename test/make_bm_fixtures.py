"""Write test/fixtures/bm_metrics.json: BehaviorMetrics' own metric code (utils/metrics_gazebo.py, branch
noetic-devel, unmodified) run on the recordings of test/bm_cases.py.

How: each case's recording is written as a bag (/F1ROS/odom at 20 Hz, /clock at 100 Hz, as a BM run records
them), its perfect-lap bag is copied beside it (BM writes CSV folders next to its bags), then BM's
``read_perfect_lap_rosbag`` and ``get_metrics`` compute the stats as BM's pilot does after a run. BM's
deviation uses randomized optimizers: each case runs REPEATS times and the fixture keeps every result.

    .venv/bin/python test/make_bm_fixtures.py        # BM from BEHAVIORMETRICS_ROOT or its git mirror
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import behaviormetrics_checkout  # noqa: E402
import bm_cases  # noqa: E402

OUT = Path(__file__).resolve().parent / "fixtures" / "bm_metrics.json"
REPEATS = 2


def write_bag(path: Path, positions: np.ndarray, times: np.ndarray) -> None:
    import rosbag
    import rospy
    from nav_msgs.msg import Odometry
    from rosgraph_msgs.msg import Clock
    events = [(t, "odom", p) for t, p in zip(times, positions)] + [(t, "clock", None) for t in bm_cases.clock(times)]
    events.sort(key=lambda e: (e[0], e[1] == "odom"))
    with rosbag.Bag(str(path), "w") as bag:
        for t, kind, p in events:
            stamp = rospy.Time.from_sec(max(t, 1e-9))
            if kind == "clock":
                bag.write("/clock", Clock(clock=stamp), stamp)
            else:
                msg = Odometry()
                msg.header.stamp, msg.header.frame_id, msg.child_frame_id = stamp, "odom", "xf1"
                msg.pose.pose.position.x, msg.pose.pose.position.y = float(p[0]), float(p[1])
                msg.pose.pose.orientation.w = 1.0
                bag.write("/F1ROS/odom", msg, stamp)


def bm_metrics_module():
    source = behaviormetrics_checkout.source()
    sys.path[:0] = [str(source), str(behaviormetrics_checkout.python_deps())]
    from utils import metrics_gazebo
    return metrics_gazebo, source


def main() -> None:
    metrics_gazebo, source = bm_metrics_module()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for case in bm_cases.CASES:
            positions, times = bm_cases.recording(case)
            runs = []
            for repeat in range(REPEATS):
                work = Path(tmp) / f"{case.name}_{repeat}"
                work.mkdir()
                experiment, reference = work / "experiment.bag", work / case.bag
                write_bag(experiment, positions, times)
                shutil.copy(bm_cases.BAGS / case.bag, reference)
                started = time.perf_counter()
                checkpoints, diameter = metrics_gazebo.read_perfect_lap_rosbag(str(reference))
                stats = metrics_gazebo.get_metrics(str(experiment), checkpoints, diameter)
                runs.append({k: (float(v) if isinstance(v, (np.floating, np.integer)) else v) for k, v in stats.items()})
                print(f"{case.name} #{repeat}: {time.perf_counter() - started:.1f} s {runs[-1]}", flush=True)
            results[case.name] = {"case": case.__dict__, "samples": len(positions), "bm": runs}
    commit = source.parent.name
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps({
        "made_by": "test/make_bm_fixtures.py: BehaviorMetrics noetic-devel utils/metrics_gazebo.py "
                   f"(read_perfect_lap_rosbag, get_metrics), checkout {commit}, on test/bm_cases.py recordings",
        "cases": results}, indent=1) + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
