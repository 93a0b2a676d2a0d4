"""Shared fixtures: one PilotNet exported to every format runnable here, and its float reference."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def reference_model():
    from f1_brains.zoo.pilotnet import torch_pilotnet
    return torch_pilotnet(seed=0)


@pytest.fixture(scope="session")
def exported(reference_model, tmp_path_factory) -> dict[str, Path]:
    """format name -> artifact path, all written from ``reference_model`` with their cards."""
    from f1_brains.zoo.export import export_all
    return export_all(reference_model, tmp_path_factory.mktemp("models"), provenance={"test": True})


@pytest.fixture(scope="session")
def frames() -> list[np.ndarray]:
    from f1_brains.synthetic import road_frames
    return road_frames(6, seed=11)


@pytest.fixture(scope="session")
def reference_outputs(reference_model, frames) -> np.ndarray:
    """The float PyTorch outputs (normalized v, w) for ``frames``: what every backend must reproduce."""
    import torch

    from f1_brains.model_card import ModelCard
    card = ModelCard()   # NCHW, the PyTorch layout
    with torch.no_grad():
        return np.concatenate([reference_model(torch.from_numpy(card.preprocess(f))).numpy() for f in frames])


@pytest.fixture(scope="session")
def nan_model() -> Path:
    """A TorchScript model that answers NaN, with a card (made by test/ros/make_nan_model.py)."""
    return REPO / "test/ros/nan.pt"
