"""BehaviorMetrics itself (branch noetic-devel), for tests that run its own code unmodified: its source from a
checkout (BEHAVIORMETRICS_ROOT=<BehaviorMetrics>/behavior_metrics) or from a git mirror of it (BEHAVIORMETRICS_GIT,
default: the session tool's mirror), plus the Python packages its Gazebo driver imports that our venv lacks,
installed with pip into .cache/behaviormetrics/deps (never into our venv). Nothing of BM is committed here."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache" / "behaviormetrics"
BRANCH = "noetic-devel"
DEFAULT_GIT = Path("/work/.mirror/JdeRobot+BehaviorMetrics/repo")
# What driver_gazebo.py imports (tui, pilot, brains_handler, metrics) beyond rospy, cv_bridge, numpy, scipy,
# matplotlib, yaml (all in our venv). No numpy: it must stay the venv's 1.x (cv_bridge).
DEPS = ("npyscreen==5.0.4", "pynput==1.8.2", "bagpy==0.4.10", "albumentations==1.0.3", "qudida==0.0.4",
        "scikit-image==0.24.0", "lazy-loader==0.6", "tifffile==2026.3.3", "scikit-learn==1.5.2",
        "threadpoolctl==3.8.0", "joblib==1.6.0", "seaborn==0.13.2", "pandas==2.2.3", "pytz==2026.6",
        "tzdata==2026.6", "jderobot-jderobottypes==1.0.0")


class Unavailable(Exception):
    """BehaviorMetrics or its packages cannot be had on this machine (the test skips with this reason)."""


def source() -> Path:
    """BM's behavior_metrics directory (read-only use: copy it before running BM, which writes into its cwd)."""
    root = os.environ.get("BEHAVIORMETRICS_ROOT")
    if root:
        path = Path(root).expanduser()
        path = path / "behavior_metrics" if (path / "behavior_metrics").is_dir() else path
        if not (path / "driver_gazebo.py").is_file():
            raise Unavailable(f"BEHAVIORMETRICS_ROOT={root} has no driver_gazebo.py")
        return path
    git_dir = Path(os.environ.get("BEHAVIORMETRICS_GIT", DEFAULT_GIT))
    if not git_dir.is_dir():
        raise Unavailable(f"no BehaviorMetrics: set BEHAVIORMETRICS_ROOT=<BehaviorMetrics>/behavior_metrics "
                          f"(or BEHAVIORMETRICS_GIT to a clone; {git_dir} does not exist)")
    return _extract(git_dir)


def _git(git_dir: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["git", f"--git-dir={git_dir}", *args], capture_output=True, check=True, **kw)


def _extract(git_dir: Path) -> Path:
    """behavior_metrics/ of BRANCH, written file by file (a mirror may lack its large files: models, meshes)."""
    try:
        commit = _git(git_dir, "rev-parse", BRANCH, text=True).stdout.strip()
        listing = _git(git_dir, "ls-tree", "-r", "-z", commit, "--", "behavior_metrics").stdout.split(b"\0")
    except subprocess.CalledProcessError as e:
        raise Unavailable(f"{git_dir}: no branch {BRANCH}: {e.stderr!r}") from None
    out = CACHE / commit[:12]
    if (out / "behavior_metrics" / "driver_gazebo.py").is_file():
        return out / "behavior_metrics"
    partial = out.with_suffix(".partial")
    shutil.rmtree(partial, ignore_errors=True)
    for entry in filter(None, listing):
        meta, path = entry.split(b"\t", 1)
        mode, kind, sha = meta.split()
        if kind != b"blob" or mode == b"120000":
            continue
        blob = subprocess.run(["git", f"--git-dir={git_dir}", "cat-file", "blob", sha.decode()], capture_output=True)
        if blob.returncode != 0:
            continue   # a large file the mirror does not hold; BM's F1 driver does not need them
        target = partial / path.decode()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob.stdout)
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)
    return out / "behavior_metrics"


def python_deps() -> Path:
    """A directory for PYTHONPATH with DEPS (installed once; pip needs PyPI)."""
    target = CACHE / "deps"
    stamp = target / ".installed"
    if stamp.is_file() and stamp.read_text() == "\n".join(DEPS):
        return target
    shutil.rmtree(target, ignore_errors=True)
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                             *DEPS], capture_output=True, text=True)
    if result.returncode != 0:
        raise Unavailable(f"cannot install BehaviorMetrics' Python packages: {result.stderr[-500:]}")
    stamp.write_text("\n".join(DEPS))
    return target
