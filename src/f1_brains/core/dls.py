"""DeepLearningStudio's (DLS) artifacts as its scripts write them, and what those scripts get wrong.

DLS's ``train.py`` saves state_dicts only (``pilot_net_model_best_<seed>.pth``, ``pilot_net_model_<seed>.ckpt``) of
a PilotNet whose layers are named ``ln_1`` (input BatchNorm), ``cn_1..cn_5`` and ``fc_1..fc_5``: the architecture
of ``core.pilotnet`` exactly, under other names. Its ``optimize_models.py`` traces TorchScript ``.pth`` files, the
baseline before ``.eval()``, so that file's BatchNorm normalizes every frame by the frame's own statistics.
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from ..errors import ModelLoadError
from . import pilotnet

if TYPE_CHECKING:
    import torch

# DLS's layer names in forward order, one per layer with weights of core.pilotnet's Sequential.
DLS_LAYERS = ("ln_1", "cn_1", "cn_2", "cn_3", "cn_4", "cn_5", "fc_1", "fc_2", "fc_3", "fc_4", "fc_5")
# Wrappers some training scripts put around a state_dict (Lightning, hand-written checkpoints).
_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model")
TRAINING_MODE_BATCHNORM = ("traced with BatchNorm in training mode (DeepLearningStudio's optimize_models.py traces "
                           "its baseline before .eval()): every frame is normalized by its own statistics, not the "
                           "trained ones, and the trace moved the stored statistics toward its random example. "
                           "Best: load the state_dict train.py saved (pilot_net_model_best_<seed>.pth); else backend "
                           "option `batchnorm: eval` runs this file with its stored statistics; as saved is what "
                           "BehaviorMetrics runs")


def is_torchscript(path: str | Path) -> bool:
    """A TorchScript archive (torch.jit.save) rather than a torch.save pickle: a zip holding code/ or constants.pkl."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any("/code/" in n or n.endswith("/constants.pkl") for n in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def read_state_dict(path: str | Path) -> dict[str, "torch.Tensor"]:
    """The tensors of a torch.save file (a state_dict, possibly inside a checkpoint dict). Loaded with
    ``weights_only=True``: no code in the file runs. Raises ModelLoadError naming the file and what it holds."""
    import torch
    path = Path(path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:   # pickle's own errors say little (KeyError(101) for text, EOFError for nothing)
        said = str(e).strip().splitlines()[0][:200] if isinstance(e, RuntimeError) and str(e).strip() else ""
        raise ModelLoadError(f"{path} is neither a TorchScript archive nor a PyTorch state_dict ({path.stat().st_size} "
                             f"bytes{': ' + said if said else ', not a torch.save file'})") from None
    for key in _WRAPPER_KEYS:
        if isinstance(data, Mapping) and isinstance(data.get(key), Mapping):
            data = data[key]
    if not isinstance(data, Mapping) or not data or not all(isinstance(v, torch.Tensor) for v in data.values()):
        kind = type(data).__name__
        raise ModelLoadError(f"{path} holds a {kind}, not a state_dict of tensors (expected a PilotNet state_dict "
                             f"with DeepLearningStudio's keys {', '.join(DLS_LAYERS)} or f1_brains' 0..20)")
    return {k.removeprefix("module."): v for k, v in data.items()}   # DataParallel's prefix


def _weighted_indices(model: "torch.nn.Module") -> list[str]:
    """The Sequential indices of core.pilotnet's layers that hold weights, in forward order."""
    return [name for name, module in model.named_children() if any(True for _ in module.parameters(recurse=False))]


def to_pilotnet_keys(state: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str], str]:
    """(``state`` renamed to core.pilotnet's keys, each new key's name in the file, the naming found: 'f1_brains'
    or 'DeepLearningStudio'). Keys of neither naming are kept as they are (the strict load then names them)."""
    if not any(k.split(".", 1)[0] in DLS_LAYERS for k in state):
        return dict(state), {k: k for k in state}, "f1_brains"
    rename = dict(zip(DLS_LAYERS, _weighted_indices(pilotnet.torch_pilotnet(seed=None))))
    renamed, original = {}, {}
    for key, value in state.items():
        layer, _, rest = key.partition(".")
        new = f"{rename[layer]}.{rest}" if layer in rename else key
        renamed[new], original[new] = value, key
    return renamed, original, "DeepLearningStudio"


def pilotnet_from_state_dict(path: str | Path) -> tuple["torch.nn.Module", str]:
    """(core.pilotnet's PilotNet in eval mode with the weights of the state_dict file ``path``, the key naming
    found). Raises ModelLoadError naming the file when it is no PilotNet state_dict (other layers, other shapes)."""
    return pilotnet_with_weights(read_state_dict(path), Path(path))


def pilotnet_from_file(path: str | Path) -> tuple["torch.nn.Module", str]:
    """As ``pilotnet_from_state_dict``, for a state_dict or a TorchScript archive of PilotNet (its weights)."""
    import torch
    path = Path(path)
    if is_torchscript(path):
        return pilotnet_with_weights(torch.jit.load(str(path), map_location="cpu").state_dict(), path)
    return pilotnet_from_state_dict(path)


def pilotnet_with_weights(tensors: Mapping[str, Any], path: Path) -> tuple["torch.nn.Module", str]:
    """As ``pilotnet_from_state_dict``, for tensors read from ``path`` (a state_dict, or a TorchScript module's)."""
    import torch
    state, original, naming = to_pilotnet_keys(tensors)
    model = pilotnet.torch_pilotnet(seed=None)
    expected = model.state_dict()
    if len(set(state) & set(expected)) < len(expected) / 2:
        layers = sorted({original[k].rsplit(".", 1)[0] for k in state})
        raise ModelLoadError(f"{path} is a state_dict of another network (layers {_short(layers)}), not PilotNet "
                             f"(DeepLearningStudio's layers {', '.join(DLS_LAYERS)}, or f1_brains' Sequential 0..20)")
    unexpected = sorted(original[k] for k in set(state) - set(expected))
    missing = sorted(set(expected) - set(state))
    if naming == "DeepLearningStudio":   # name what is missing as the file would
        back = dict(zip(_weighted_indices(model), DLS_LAYERS))
        missing = [f"{back.get(k.split('.')[0], k.split('.')[0])}.{k.split('.', 1)[1]}" for k in missing]
    if missing or unexpected:
        raise ModelLoadError(f"{path} is a state_dict of a network like PilotNet but not PilotNet: " + "; ".join(
            part for part in (f"missing {_short(missing)}" if missing else "",
                              f"unexpected {_short(unexpected)}" if unexpected else "") if part))
    wrong = [f"{original[k]} {tuple(state[k].shape)} (PilotNet: {tuple(v.shape)})" for k, v in expected.items()
             if tuple(state[k].shape) != tuple(v.shape)]
    if wrong:
        raise ModelLoadError(f"{path} is a state_dict of another PilotNet: {_short(wrong)}")
    with torch.no_grad():
        model.load_state_dict(state, strict=True)
    return model.eval(), naming


def training_mode_batchnorms(module: "torch.jit.ScriptModule") -> int:
    """How many batch_norm calls of a TorchScript module run in training mode whatever ``.eval()`` says (a trace
    records the mode as a constant)."""
    count = 0
    for node in module.inlined_graph.nodes():
        if node.kind() == "aten::batch_norm":
            training = list(node.inputs())[5].node()
            count += training.kind() == "prim::Constant" and training.output().toIValue() is True
    return count


def _short(items: list[str], n: int = 4) -> str:
    return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")


def tf_pilotnet_weights(variables: list, height: int, width: int) -> list[np.ndarray] | None:
    """The weights, in ``pilotnet.keras_pilotnet``'s order, of DeepLearningStudio's 'same'-padded TF PilotNet found
    in a SavedModel's ``variables`` (creation order, BatchNorm's four by name), for ``height`` x ``width`` images;
    None when the variables are another network's or do not fit that size."""
    import math
    if len(variables) != 4 + 2 * len(pilotnet.CONVS) + 2 * (len(pilotnet.DENSE) + 1):
        return None
    norm_order = ("gamma", "beta", "moving_mean", "moving_variance")
    norm = sorted(variables[:4], key=lambda v: next((i for i, n in enumerate(norm_order) if n in v.name), 9))
    if [next((n for n in norm_order if n in v.name), "") for v in norm] != list(norm_order):
        return None
    h, w, channels, expected = height, width, 3, [(3,)] * 4
    for out, k, s in pilotnet.CONVS:
        expected += [(k, k, channels, out), (out,)]
        h, w, channels = math.ceil(h / s), math.ceil(w / s), out
    units = h * w * channels
    for out in (*pilotnet.DENSE, pilotnet.OUTPUTS):
        expected += [(units, out), (out,)]
        units = out
    weights = [np.asarray(v.numpy()) for v in norm + list(variables[4:])]
    return weights if [tuple(x.shape) for x in weights] == expected else None
