"""One run, two metric codes: run.json's `bm` section beside what BehaviorMetrics' own metric code (noetic-devel
utils/metrics_gazebo.py, unmodified) computes from the same run's bag and perfect-lap reference.

    roslaunch f1_brains drive.launch ... bag:=true reference_bag:=$BAGS/lap-simple-circuit.bag out:=RUN
    .venv/bin/python test/compare_run_with_bm.py RUN $BAGS/lap-simple-circuit.bag

Prints a markdown table, key by key (BM's pilot keys, which BM measures in its own brain loop, are not in the bag:
only ours are shown for them).
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_bm_fixtures import bm_metrics_module  # noqa: E402


def main(run_dir: str, reference_bag: str) -> None:
    metrics_gazebo, source = bm_metrics_module()
    ours = json.loads((Path(run_dir) / "run.json").read_text())["bm"]
    with tempfile.TemporaryDirectory() as tmp:   # BM writes CSV folders beside the bags it reads
        run_bag, ref_bag = Path(tmp) / "run.bag", Path(tmp) / Path(reference_bag).name
        shutil.copy(Path(run_dir) / "run.bag", run_bag)
        shutil.copy(reference_bag, ref_bag)
        checkpoints, diameter = metrics_gazebo.read_perfect_lap_rosbag(str(ref_bag))
        bm = metrics_gazebo.get_metrics(str(run_bag), checkpoints, diameter)
    print(f"BehaviorMetrics: {source.parent.name}; run: {run_dir}\n")
    print("| key | ours (run.json) | BM's code on run.bag | difference |\n|---|---|---|---|")
    for key in sorted(set(ours) | set(bm)):
        a, b = ours.get(key), bm.get(key)
        diff = f"{(a / b - 1) * 100:+.2f}%" if isinstance(a, (int, float)) and isinstance(b, (int, float)) \
            and not isinstance(a, bool) and b else ""
        show = lambda x: "" if x is None else (f"{x:.4g}" if isinstance(x, float) else str(x))
        print(f"| `{key}` | {show(a)} | {show(b)} | {diff} |")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
