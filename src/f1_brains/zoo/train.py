"""`f1-brains train`: PilotNet (core.pilotnet) learns the expert's (v, w) from a dataset (zoo.dataset).

Validation holds out whole laps by default (neighbouring frames are near-duplicates, so a random split would
flatter the score); ``validation_mask`` lists the other splits. Datasets: ours or DeepLearningStudio's (zoo.dls_dataset). Augmentation: horizontal flip with w negated, and brightness/contrast jitter. Targets are the
card's normalized outputs; the best epoch on validation is kept. Writes the state_dict, the model card
(input spec of the dataset, output ranges chosen here) and the training history.
"""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..core import dls, pilotnet
from ..core.model_card import ModelCard, OutputSpec, preset
from ..errors import ConfigError
from ..util.files import write_json_atomic
from . import dataset

TRAINING_CARD = "training_card.yaml"   # in the training output directory: how the outputs map to (v, w)


def output_ranges(v: np.ndarray, w: np.ndarray) -> dict[str, tuple[float, float]]:
    """Round ranges covering the labels, symmetric in w (so a flip maps w_norm to 1 - w_norm)."""
    w_max = math.ceil(float(np.abs(w).max()) * 2) / 2
    return {"v": (math.floor(float(v.min())), math.ceil(float(v.max()))), "w": (-w_max, w_max)}


def augment(x: np.ndarray, w: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """x: float batch NCHW in [0, 1]; w: normalized w targets. Flip half (w -> 1 - w), jitter light."""
    flip = rng.random(x.shape[0]) < 0.5
    x = np.where(flip[:, None, None, None], x[..., ::-1], x)
    w = np.where(flip, np.float32(1.0) - w, w)
    gain = rng.uniform(0.75, 1.25, (x.shape[0], 1, 1, 1)).astype(np.float32)
    bias = rng.uniform(-0.08, 0.08, (x.shape[0], 1, 1, 1)).astype(np.float32)
    return np.clip(x * gain + bias, 0, 1), w


def validation_mask(groups: np.ndarray, split: str, rng: np.random.Generator) -> np.ndarray:
    """Which frames validate. ``split``: ``laps:N`` (N whole groups at random: laps of our datasets, folders of
    DeepLearningStudio's), ``groups:A,B`` (the groups named, or whose circuit is named), ``fraction:F`` (the last F of
    every group: neighbouring frames are near-duplicates, so a random pick would flatter the score). Raises
    ConfigError for a malformed split or one that leaves no training frame."""
    kind, _, value = split.partition(":")
    names = sorted(set(groups))
    try:
        if kind == "laps":
            n = int(value)
            chosen = set(rng.choice(names, size=min(n, len(names) - 1), replace=False)) if len(names) > 1 and n > 0 else set()
            mask = np.isin(groups, list(chosen))
        elif kind == "groups":
            wanted = [g for g in value.split(",") if g]
            unknown = [g for g in wanted if not any(n == g or n.startswith(g + "/") for n in names)]
            if unknown or not wanted:
                raise ConfigError(f"validation split {split!r}: no group {', '.join(unknown) or '(none named)'}; "
                                  f"groups: {', '.join(names[:12])}")
            mask = np.array([any(g == n or g.startswith(n + "/") for n in wanted) for g in groups])
        elif kind == "fraction":
            fraction = float(value)
            if not 0 < fraction < 1:
                raise ValueError
            mask = np.zeros(len(groups), bool)
            for name in names:
                members = np.flatnonzero(groups == name)
                mask[members[len(members) - int(round(fraction * len(members))):]] = True
        else:
            raise ValueError
    except ValueError:
        raise ConfigError(f"validation split {split!r}: use laps:N, groups:A,B or fraction:F (0 < F < 1)") from None
    if mask.all():
        raise ConfigError(f"validation split {split!r} leaves no frame to train on")
    return mask


def _load_all(data_dirs: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
    parts = [dataset.load(d) for d in data_dirs]
    return (np.concatenate([np.asarray(p) for p, _, _ in parts]), np.concatenate([c["v"] for _, c, _ in parts]),
            np.concatenate([c["w"] for _, c, _ in parts]), np.concatenate([c["group"] for _, c, _ in parts]),
            [m for _, _, m in parts])


def train(data_dirs: list[str], out_dir: str | Path, epochs: int = 8, batch: int = 64, lr: float = 1e-3,
          seed: int = 0, val_split: str = "laps:2", threads: int = 2, progress: bool = True,
          val_dirs: list[str] | None = None) -> dict[str, Any]:
    """``val_split``: the validation split of ``data_dirs`` (``validation_mask``), unless ``val_dirs`` name validation
    datasets of their own (as DeepLearningStudio's --val_dir). Output ranges: the datasets' label ranges where they
    fix them (DeepLearningStudio's), else round ranges covering the labels."""
    import torch
    from tqdm import tqdm
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    pixels, v, w, groups, manifests = _load_all(data_dirs)
    is_val = np.zeros(len(v), bool)
    if val_dirs:
        val_pixels, val_v, val_w, val_groups, _ = _load_all(val_dirs)
        pixels, v, w = np.concatenate([pixels, val_pixels]), np.concatenate([v, val_v]), np.concatenate([w, val_w])
        groups, is_val = np.concatenate([groups, val_groups]), np.concatenate([is_val, np.ones(len(val_v), bool)])
    else:
        is_val = validation_mask(groups, val_split, rng)
    fixed = manifests[0].get("label_ranges")
    ranges = {k: tuple(r) for k, r in fixed.items()} if fixed else output_ranges(v, w)
    card = ModelCard(name="pilotnet", framework="pytorch", input=dataset.stored_input(manifests[0]),
                     output=OutputSpec(ranges=ranges))
    if card.input.layout != "NCHW" or card.input.normalization != "unit":
        raise ConfigError("training expects NCHW unit-range datasets (the PyTorch PilotNet's input)")
    targets = card.normalize_outputs(v, w)
    held_out = sorted(set(groups[is_val]))
    val = np.flatnonzero(is_val)
    train_idx = np.flatnonzero(~is_val)

    model = pilotnet.torch_pilotnet(seed).train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * math.ceil(len(train_idx) / batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    history, best, best_state = [], float("inf"), None
    t0 = time.perf_counter()

    def evaluate() -> dict[str, float]:
        model.eval()
        preds = []
        with torch.inference_mode():
            for i in range(0, len(val), 256):
                idx = val[i:i + 256]
                preds.append(model(torch.from_numpy(card.to_tensor(pixels[idx]))).numpy())
        model.train()
        p = np.concatenate(preds)
        err = p - targets[val]
        (v0, v1), (w0, w1) = card.output.ranges["v"], card.output.ranges["w"]
        return {"val_mse_normalized": float((err ** 2).mean()), "val_mse_v": float(((err[:, 0] * (v1 - v0)) ** 2).mean()),
                "val_mse_w": float(((err[:, 1] * (w1 - w0)) ** 2).mean())}

    for epoch in range(epochs):
        order = rng.permutation(train_idx)
        losses = []
        bar = tqdm(range(0, len(order), batch), desc=f"epoch {epoch + 1}/{epochs}", unit="batch",
                   disable=not progress, file=sys.stderr)
        for i in bar:
            idx = np.sort(order[i:i + batch])
            x, w_aug = augment(card.to_tensor(pixels[idx]), targets[idx, 1], rng)
            x, y = torch.from_numpy(x), torch.from_numpy(np.stack([targets[idx, 0], w_aug], 1))
            loss = torch.nn.functional.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            if len(losses) % 20 == 0:
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.5f}")
        record = {"epoch": epoch + 1, "train_mse_normalized": float(np.mean(losses)), **(evaluate() if len(val) else {}),
                  "elapsed_s": time.perf_counter() - t0}
        history.append(record)
        print(f"epoch {epoch + 1}: " + ", ".join(f"{k} {v:.5f}" for k, v in record.items() if k != "epoch"),
              file=sys.stderr)
        score = record.get("val_mse_normalized", record["train_mse_normalized"])
        if score < best:
            best, best_state = score, {k: t.detach().clone() for k, t in model.state_dict().items()}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(best_state, out / "pilotnet_state.pt")
    card.save(out / TRAINING_CARD)   # not beside the weights: a state_dict is no runnable artifact
    result = {"data": [str(d) for d in data_dirs], "frames_train": int(len(train_idx)), "frames_val": int(len(val)),
              "validation": val_dirs or val_split, "validation_groups": held_out, "epochs": epochs, "batch": batch, "lr": lr, "seed": seed,
              "best_val_mse_normalized": best, "history": history, "card_output": card.to_dict()["output"]}
    write_json_atomic(out / "training.json", result)
    return result


def load_pilotnet(weights: str | None, seed: int) -> tuple[Any, dict[str, Any], ModelCard]:
    """(PyTorch PilotNet in eval mode, provenance, the card its weights were trained for): ``weights`` from
    `f1-brains train` (card: its training card beside them) or from DeepLearningStudio (a state_dict .pth/.ckpt, or a
    TorchScript .pth of its PilotNet; card: DLS's preprocessing and label ranges), else an untrained network from
    ``seed``. Raises ConfigError when ``weights`` is missing, ModelLoadError when it holds no PilotNet."""
    model, card = pilotnet.torch_pilotnet(seed), ModelCard()
    provenance: dict[str, Any] = {"network": "PilotNet (f1_brains.core.pilotnet)"}
    if not weights:
        provenance["weights"] = f"untrained, torch seed {seed}"
        return model.eval(), provenance, card
    path = Path(weights)
    if not path.is_file():
        raise ConfigError(f"weights {weights} do not exist (f1-brains train writes them)")
    model, naming = dls.pilotnet_from_file(path)
    provenance.update(weights=str(weights), weights_naming=naming)
    if path.with_name(TRAINING_CARD).is_file():   # the output ranges the network was trained with
        card = ModelCard.load(path.with_name(TRAINING_CARD))
    elif naming == "DeepLearningStudio":
        card = preset("dls_pytorch_pilotnet")
    return model.eval(), provenance, card
