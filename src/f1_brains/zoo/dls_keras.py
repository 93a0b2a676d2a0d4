"""DeepLearningStudio's TensorFlow PilotNet (the .h5 its train.py saves), rebuilt in the orientation it was trained on,
for `f1-brains optimize --keras`.

Its architecture: BatchNormalization, five 'same'-padded ReLU convolutions (24 5x5/2, 36 5x5/2, 48 5x5/2, 64 3x3/1,
64 3x3/1), Flatten, ReLU Dense 1164, 100, 50, 10 and a linear Dense 2: 17.0M parameters at the declared (200, 66, 3).
DLS trains it on images of the transposed size (66 rows x 200 columns). No weight depends on the image size ('same'
padding keeps the flatten size), so the network rebuilt with the trained orientation as its declared input computes
what the trained one computes, and every artifact made from it declares what it is fed.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..core import pilotnet
from ..core.model_card import ModelCard, preset
from ..core.pilotnet import CONVS, DENSE, OUTPUTS
from ..errors import ModelLoadError


def _describe(layer) -> tuple:
    """What identifies one layer of DLS's TF PilotNet, whichever Keras saved it."""
    kind, config = type(layer).__name__, layer.get_config()
    if kind == "Conv2D":
        return kind, config["filters"], tuple(config["kernel_size"]), tuple(config["strides"]), config["padding"], \
            config["activation"]
    if kind == "Dense":
        return kind, config["units"], config["activation"]
    return (kind,)


EXPECTED = ([("BatchNormalization",)] + [("Conv2D", f, (k, k), (s, s), "same", "relu") for f, k, s in CONVS]
            + [("Flatten",)] + [("Dense", u, "relu") for u in DENSE] + [("Dense", OUTPUTS, "linear")])


def read(path: str | Path) -> tuple[list[np.ndarray], tuple[int, int]]:
    """(weights in layer order, declared (height, width)) of DLS's TF PilotNet saved at ``path`` (.h5 or .keras).
    Raises ModelLoadError naming the file when it does not load or is another network."""
    import keras
    path = Path(path)
    try:
        model = keras.models.load_model(str(path), compile=False)
    except Exception as e:
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise ModelLoadError(f"{path}: not a Keras model Keras can load: {first}") from None
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    found = [_describe(layer) for layer in layers]
    if found != EXPECTED:
        differ = next((f"layer {i}: {f} where DLS's has {e}" for i, (f, e) in enumerate(zip(found, EXPECTED))
                       if f != e), f"{len(found)} layers where DLS's has {len(EXPECTED)}")
        raise ModelLoadError(f"{path} is not DeepLearningStudio's TF PilotNet ({differ})")
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 4 or shape[3] != 3 or not all(isinstance(d, int) for d in shape[1:3]):
        raise ModelLoadError(f"{path}: input {shape} is not a fixed-size 3-channel image")
    return model.get_weights(), (shape[1], shape[2])


@dataclass(frozen=True)
class DLSKerasPilotNet:
    """DLS's TF PilotNet read from ``path``: its weights and the size it declares."""
    path: Path
    weights: list = field(repr=False)
    declared: tuple[int, int]

    @classmethod
    def load(cls, path: str | Path) -> "DLSKerasPilotNet":
        weights, declared = read(path)
        return cls(Path(path), weights, declared)

    def as_trained(self, keras: Any = None):
        """The network declaring the orientation it was trained on (declared H x W -> W rows x H columns)."""
        if keras is None:
            import keras
        model = pilotnet.keras_pilotnet(keras, self.declared[1], self.declared[0], padding="same")
        model.set_weights(self.weights)
        return model

    def card(self) -> ModelCard:
        """What DLS trained it on: the whole frame, bilinear to the trained size, ImageNet mean/std, NHWC, outputs
        over DLS's label ranges."""
        card = preset("dls_tf_pilotnet")
        return replace(card, input=replace(card.input, height=self.declared[1], width=self.declared[0]),
                       provenance={"source": f"DeepLearningStudio TF PilotNet {self.path}"})
