"""The package builds and installs with catkin_make, as on a ROS Noetic workspace."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("catkin_make") is None, reason="catkin_make is not installed")
def test_catkin_make_install(tmp_path):
    tracked = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout.split()
    pkg = tmp_path / "src" / "f1_brains"
    for name in tracked:
        if (REPO / name).is_file():
            (pkg / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, pkg / name)
    env = {**os.environ, "PWD": str(tmp_path)}   # catkin_make reads $PWD, not the real working directory
    result = subprocess.run(["catkin_make", "install", "-DPYTHON_EXECUTABLE=/usr/bin/python3"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    install = tmp_path / "install"
    for path in ("lib/f1_brains/brain_node", "lib/f1_brains/camera_player", "share/f1_brains/package.xml",
                 "share/f1_brains/launch/brain.launch", "share/f1_brains/brains/pilotnet_onnx.yaml"):
        assert (install / path).exists(), path
    site = next(install.glob("lib/python3*/*-packages"))
    check = subprocess.run([sys.executable, "-c", "import f1_brains.core.brain, f1_brains.ros.brain_node; print(f1_brains.__file__)"],
                           env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert check.returncode == 0 and str(site) in check.stdout, check.stderr
