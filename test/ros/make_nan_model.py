#!/usr/bin/env python3
"""Writes test/ros/nan.pt (+ card): a TorchScript network that always answers NaN, for safe-stop tests."""
from pathlib import Path

import torch

from f1_brains.core.model_card import ModelCard, card_path_for


class NaNNet(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(1, 2, 3)).unsqueeze(1).repeat(1, 2) * float("nan")


if __name__ == "__main__":
    path = Path(__file__).with_name("nan.pt")
    torch.jit.script(NaNNet()).save(str(path))
    ModelCard(name="nan", provenance={"made_by": "test/ros/make_nan_model.py"}).save(card_path_for(path))
    print(path)
