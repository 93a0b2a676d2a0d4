"""Shared fixtures: one PilotNet exported to every format runnable here, and its float reference."""
from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def reference_model():
    from f1_brains.core.pilotnet import torch_pilotnet
    return torch_pilotnet(seed=0)


@pytest.fixture(scope="session")
def exported(reference_model, tmp_path_factory) -> dict[str, Path]:
    """format name -> artifact path, all written from ``reference_model`` with their cards."""
    from f1_brains.zoo.export import export_all
    return export_all(reference_model, tmp_path_factory.mktemp("models"), provenance={"test": True})


@pytest.fixture(scope="session")
def frames() -> list[np.ndarray]:
    from f1_brains.core.synthetic import road_frames
    return road_frames(6, seed=11)


@pytest.fixture(scope="session")
def reference_outputs(reference_model, frames) -> np.ndarray:
    """The float PyTorch outputs (normalized v, w) for ``frames``: what every backend must reproduce."""
    import torch

    from f1_brains.core.model_card import ModelCard
    card = ModelCard()   # NCHW, the PyTorch layout
    with torch.no_grad():
        return np.concatenate([reference_model(torch.from_numpy(card.preprocess(f))).numpy() for f in frames])


@pytest.fixture(scope="session")
def nan_model() -> Path:
    """A TorchScript model that answers NaN, with a card (made by test/ros/make_nan_model.py)."""
    return REPO / "test/ros/nan.pt"


from f1_brains.evaluate.runs import free_port  # noqa: E402,F401  (tests import it from here)


def ros_env(tmp_path: Path) -> dict[str, str]:
    """The environment nodes need: this venv's python first, this package on ROS_PACKAGE_PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    env["ROS_PACKAGE_PATH"] = ":".join(p for p in (str(REPO), env.get("ROS_PACKAGE_PATH")) if p)
    env["ROS_HOME"] = str(tmp_path / "ros")
    env["PYTHONFAULTHANDLER"] = "1"   # a node that crashes in native code prints its Python stacks
    return env


@pytest.fixture
def rostest(tmp_path):
    """Run test/ros/NAME.test; return the JUnit counts of its test node (rostest's own exit code and
    "OK" ignore failures inside the test node, so its report is read instead)."""
    def run(name: str, timeout: float = 400) -> tuple[dict[str, int], str]:
        result = subprocess.run(["rostest", str(REPO / "test/ros" / f"{name}.test")], env=ros_env(tmp_path),
                                capture_output=True, text=True, timeout=timeout)
        output = (result.stdout + result.stderr)[-8000:]
        reports = [r for r in (tmp_path / "ros/test_results/f1_brains").glob("rosunit-*.xml")]
        assert result.returncode == 0 and len(reports) == 1, output
        suite = ET.parse(reports[0]).getroot()
        return {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors")}, output
    return run


REAL_WORLDS = REPO.parent / "shared" / "worlds"


@pytest.fixture(scope="session")
def real_worlds() -> Path:
    """../shared/worlds: CustomRobots' F1 worlds and BehaviorMetrics' perfect-lap bags (test data that a
    user's fresh machine does not have, so tests that need it skip with that reason)."""
    if not (REAL_WORLDS / "customrobots_f1" / "f1" / "worlds").is_dir():
        pytest.skip(f"the real F1 worlds are not at {REAL_WORLDS} (CustomRobots checkout + BM bags, test data only)")
    return REAL_WORLDS
