"""Where the package's files are: brains/, models/, launch/ (source checkout or catkin install)."""
from __future__ import annotations

import os
from pathlib import Path


def package_root() -> Path:
    """$F1_BRAINS_ROOT, else the source checkout holding this file, else the installed ROS package."""
    if os.environ.get("F1_BRAINS_ROOT"):
        return Path(os.environ["F1_BRAINS_ROOT"])
    checkout = Path(__file__).resolve().parents[3]   # src/f1_brains/util/paths.py
    if (checkout / "package.xml").is_file():
        return checkout
    import rospkg  # catkin install: the share directory of the ROS package
    return Path(rospkg.RosPack().get_path("f1_brains"))


def brains_dir() -> Path:
    return package_root() / "brains"


def resolve(path: str | Path) -> Path:
    """A path from a brain YAML: absolute, or relative to the package root."""
    path = Path(os.path.expanduser(str(path)))
    return path if path.is_absolute() else package_root() / path
