"""Fine-tuning data and the PyTorch loop shared by the optimizations that train (QAT, pruning, clustering).

Every such optimization starts from the trained weights and continues on the training dataset for a
fixed number of steps, with the training's augmentation and normalized targets. Keras models get the
same batches in NHWC (``TuningSet.batches(layout="NHWC")``).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..core.model_card import InputSpec, ModelCard, OutputSpec
from . import dataset
from .train import augment


@dataclass
class TuningSet:
    pixels: np.ndarray       # N x H x W x 3 uint8, the card's crop_resize output
    targets: np.ndarray      # N x 2 float32, normalized (v, w)
    card: ModelCard          # the network's input (its normalization) and output ranges

    @classmethod
    def load(cls, data_dirs: list[str | Path], output: OutputSpec, card_input: InputSpec | None = None
             ) -> "TuningSet":
        """``card_input``: the network's preprocessing, when it is not the datasets' own (a DeepLearningStudio
        folder is read with it; our datasets must store what it crops, ``dataset.load``)."""
        parts = [dataset.load(d, card_input) for d in data_dirs]
        card = ModelCard(input=card_input or dataset.stored_input(parts[0][2]), output=output)
        pixels = np.concatenate([np.asarray(p) for p, _, _ in parts])
        v = np.concatenate([c["v"] for _, c, _ in parts])
        w = np.concatenate([c["w"] for _, c, _ in parts])
        return cls(pixels, card.normalize_outputs(v, w).astype(np.float32), card)

    def inputs(self, indices: np.ndarray, layout: str = "NCHW") -> np.ndarray:
        """The network's input for the frames ``indices``, in ``layout``."""
        return self.card.from_unit(self.pixels[indices].astype(np.float32) / 255, layout)

    def batches(self, steps: int, batch: int = 64, seed: int = 0, layout: str = "NCHW"
                ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``steps`` augmented (x, y) batches, sampled without replacement within each pass; the augmentation acts on
        [0, 1] pixels, then the card's normalization applies."""
        rng = np.random.default_rng(seed)
        order = np.empty(0, np.int64)
        for _ in range(steps):
            if len(order) < batch:
                order = np.concatenate([order, rng.permutation(len(self.pixels))])
            idx, order = np.sort(order[:batch]), order[batch:]
            unit = (self.pixels[idx].astype(np.float32) / 255).transpose(0, 3, 1, 2)
            x, w = augment(unit, self.targets[idx, 1], rng)
            y = np.stack([self.targets[idx, 0], w], 1).astype(np.float32)
            yield self.card.from_unit(x.transpose(0, 2, 3, 1), layout), y


FINETUNE_LR = 2e-5   # the trained model ended at a low learning rate; a larger one first undoes its fit


def finetune_torch(model, data: TuningSet, steps: int, lr: float = FINETUNE_LR, seed: int = 0,
                   desc: str = "fine-tune", progress: bool = True):
    """Train ``model`` (in place, left in train mode, BatchNorm statistics frozen) for ``steps`` batches: Adam on the MSE, the learning
    rate decaying from ``lr`` to 0 along a cosine."""
    import torch
    from tqdm import tqdm

    torch.manual_seed(seed)
    model.train()
    for module in model.modules():   # keep the trained BatchNorm statistics
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.eval()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, steps))
    bar = tqdm(data.batches(steps, seed=seed), total=steps, desc=desc, unit="batch", disable=not progress,
               file=sys.stderr)
    for x, y in bar:
        loss = torch.nn.functional.mse_loss(model(torch.from_numpy(x)), torch.from_numpy(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        schedule.step()
        bar.set_postfix(loss=f"{float(loss.detach()):.5f}", refresh=False)
    return model
