"""DeepLearningStudio's (DLS) artifacts written the way its scripts write them, and its preprocessing by hand.

Our own code, from DLS's facts (../shared/REFERENCE.md sections 5 and 9): its PyTorch PilotNet's layer names and
order, `train.py`'s state_dict saves, `optimize_models.py`'s traces (example `torch.rand(1, 3, 200, 66)`, the
baseline traced before `.eval()`, eager fuse + QuantStub/DeQuantStub around the children for static quantization
and QAT, fbgemm), and its preprocessing: RGB, rows 240:480, `cv2.resize(img, (200, 66))`, ToTensor.
"""
from __future__ import annotations

import copy
from pathlib import Path

import cv2
import numpy as np

# Our Sequential's weighted layers and DLS's names for them, written out independently of f1_brains.core.dls.
DLS_NAME_OF_INDEX = {0: "ln_1", 1: "cn_1", 3: "cn_2", 5: "cn_3", 7: "cn_4", 9: "cn_5",
                     12: "fc_1", 14: "fc_2", 16: "fc_3", 18: "fc_4", 20: "fc_5"}
TRACE_EXAMPLE = (1, 3, 200, 66)   # what DLS's optimize_models.py traces with


def dls_pilotnet(reference_model):
    """A module shaped as DLS's PyTorch PilotNet (attribute names, forward), holding ``reference_model``'s weights,
    in train mode as DLS's scripts construct it."""
    import torch
    from torch import nn

    class PilotNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln_1 = nn.BatchNorm2d(3, eps=1e-03)
            channels = 3
            for i, (out, k, s) in enumerate(((24, 5, 2), (36, 5, 2), (48, 5, 2), (64, 3, 1), (64, 3, 1)), 1):
                setattr(self, f"cn_{i}", nn.Conv2d(channels, out, k, stride=s))
                setattr(self, f"relu{i}", nn.ReLU())
                channels = out
            self.flatten = nn.Flatten()
            width = 1 * 18 * 64
            for i, units in enumerate((1164, 100, 50, 10), 1):
                setattr(self, f"fc_{i}", nn.Linear(width, units))
                setattr(self, f"relu_fc{i}", nn.ReLU())
                width = units
            self.fc_5 = nn.Linear(10, 2)

        def forward(self, img):
            out = self.ln_1(img)
            for i in range(1, 6):
                out = getattr(self, f"relu{i}")(getattr(self, f"cn_{i}")(out))
            out = self.flatten(out)
            for i in range(1, 5):
                out = getattr(self, f"relu_fc{i}")(getattr(self, f"fc_{i}")(out))
            return self.fc_5(out)

    model = PilotNet()
    state = {}
    for key, value in reference_model.state_dict().items():
        index, rest = key.split(".", 1)
        state[f"{DLS_NAME_OF_INDEX[int(index)]}.{rest}"] = value
    model.load_state_dict(state, strict=True)
    return model.train()


def torch_input(frame: np.ndarray) -> np.ndarray:
    """DLS's PyTorch preprocessing of an RGB camera frame: rows 240:480, cv2 bilinear to 200x66, ToTensor."""
    x = cv2.resize(frame[240:480], (200, 66)).astype(np.float32) / 255
    return x.transpose(2, 0, 1)[None].copy()


def torch_outputs(module, frames: list[np.ndarray]) -> np.ndarray:
    """A module's normalized (v, w) on DLS's preprocessing of ``frames``: the reference computation."""
    import torch
    with torch.no_grad():
        return np.concatenate([module(torch.from_numpy(torch_input(f))).numpy() for f in frames])


def _eager_quantized(model, calibration: list[np.ndarray], qat: bool):
    """DLS's static quantization / QAT sequence: fuse (cn_i, relu i) and (fc_i, relu_fc i), QuantStub + the children
    + DeQuantStub, fbgemm qconfig, prepare (or prepare_qat in train mode), a few batches, convert."""
    import torch
    from torch import nn
    m = copy.deepcopy(model).eval()
    pairs = [[f"cn_{i}", f"relu{i}"] for i in range(1, 6)] + [[f"fc_{i}", f"relu_fc{i}"] for i in range(1, 5)]
    torch.ao.quantization.fuse_modules(m, pairs, inplace=True)
    m = nn.Sequential(torch.ao.quantization.QuantStub(), *m.children(), torch.ao.quantization.DeQuantStub())
    torch.backends.quantized.engine = "fbgemm"
    m.qconfig = torch.ao.quantization.get_default_qconfig("fbgemm")
    if qat:
        m.train()
        torch.ao.quantization.prepare_qat(m, inplace=True)
    else:
        torch.ao.quantization.prepare(m, inplace=True)
    with torch.no_grad():
        for batch in calibration:
            m(torch.from_numpy(batch))
    return torch.ao.quantization.convert(m.eval())


def write_pytorch_artifacts(reference_model, out: Path, calibration_frames: list[np.ndarray]) -> dict[str, Path]:
    """Every PyTorch file DLS's scripts write, under DLS's names: train.py's state_dicts, optimize_models.py's
    TorchScript traces (the baseline in training mode, as DLS traces it)."""
    import torch
    from torch.nn.utils import prune
    model = dls_pilotnet(reference_model)   # train mode, as constructed by DLS
    files = {"state_dict .pth": out / "pilot_net_model_best_123.pth", "state_dict .ckpt": out / "pilot_net_model_123.ckpt"}
    for path in files.values():
        torch.save(model.state_dict(), path)
    torch.manual_seed(0)   # DLS's example is unseeded; seeded here so the table's numbers reproduce
    example = torch.rand(*TRACE_EXAMPLE)

    def trace(kind: str, module, name: str) -> None:
        files[kind] = out / name
        with torch.no_grad():
            torch.jit.save(torch.jit.trace(module, example), str(files[kind]))

    trace("TorchScript baseline (traced in training mode)", model, "baseline.pth")
    model.eval()
    trace("TorchScript baseline (traced in eval mode)", model, "baseline_eval.pth")
    trace("TorchScript dynamic int8", torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8),
          "dynamic_quan.pth")
    calibration = [torch_input(f) for f in calibration_frames]
    trace("TorchScript static int8", _eager_quantized(model, calibration, qat=False), "static_quan.pth")
    trace("TorchScript QAT int8", _eager_quantized(model, calibration, qat=True), "quan_aware.pth")
    pruned = copy.deepcopy(model)
    for m in pruned.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            prune.l1_unstructured(m, "weight", amount=0.3 if isinstance(m, torch.nn.Conv2d) else 0.5)
            prune.remove(m, "weight")
    trace("TorchScript local prune", pruned.eval(), "local_prune.pth")
    return files


def write_dataset(out: Path, frames: list[np.ndarray], labels: list[tuple[float, float]]) -> Path:
    """A DLS dataset folder: ``<n>.png`` camera frames (as cv2.imwrite saves an RGB frame turned BGR) and a data.csv
    with image_name, v, w, timestamp, rows in the images' numeric order."""
    out.mkdir(parents=True, exist_ok=True)
    lines = ["image_name,v,w,timestamp"]
    for i, (frame, (v, w)) in enumerate(zip(frames, labels)):
        cv2.imwrite(str(out / f"{i}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        lines.append(f"{i}.png,{v},{w},{1000.0 + i * 0.05:.2f}")
    (out / "data.csv").write_text("\n".join(lines) + "\n")
    return out


def dataset_pixels(folder: Path) -> np.ndarray:
    """DLS's PyTorch dataset reading, by hand: images in numeric order, BGR -> RGB, rows 240:480, cv2 to 200x66."""
    names = sorted(folder.glob("*.png"), key=lambda p: int(p.stem))
    return np.stack([cv2.resize(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)[240:480], (200, 66))
                     for p in names])


# ---- TensorFlow: DLS's 'same'-padded PilotNet, declared (200, 66, 3), trained on 66x200 images ----

DECLARED = (200, 66, 3)   # DLS's img_shape default; cv2.resize(img, (200, 66)) makes 66 rows x 200 columns


def tf_input(frame: np.ndarray) -> np.ndarray:
    """DLS's TF preprocessing by hand: the whole RGB frame, cv2 bilinear to 200 columns x 66 rows, albumentations'
    Normalize (ImageNet mean/std over /255), NHWC batch of one."""
    x = cv2.resize(frame, (200, 66)).astype(np.float32) / 255
    mean, std = np.array([0.485, 0.456, 0.406], np.float32), np.array([0.229, 0.224, 0.225], np.float32)
    return ((x - mean) / std)[None].astype(np.float32)


def dls_tf_pilotnet(seed: int = 0):
    """DLS's pilotnet_model(img_shape=(200, 66, 3)): BatchNorm, five 'same'-padded ReLU convolutions, four ReLU dense
    layers and a linear (v, w) head; 17.0M parameters. Seeded weights, BatchNorm statistics of normalized images."""
    import keras
    keras.utils.set_random_seed(seed)
    layers = keras.layers
    model = keras.Sequential(
        [keras.Input(DECLARED), layers.BatchNormalization(epsilon=0.001, axis=-1)]
        + [layers.Conv2D(f, (k, k), strides=(s, s), activation="relu", padding="same")
           for f, k, s in ((24, 5, 2), (36, 5, 2), (48, 5, 2), (64, 3, 1), (64, 3, 1))]
        + [layers.Flatten()] + [layers.Dense(u, activation="relu") for u in (1164, 100, 50, 10)] + [layers.Dense(2)])
    bn = model.layers[0]
    gamma, beta, _, _ = bn.get_weights()
    bn.set_weights([gamma, beta, np.array([0.1, -0.2, 0.05], np.float32), np.array([0.9, 1.1, 1.2], np.float32)])
    return model


def write_tf_artifacts(model, out: Path, calibration_frames: list[np.ndarray]) -> dict[str, Path]:
    """DLS's TF files: train.py's .h5 (bare, and rewritten with its metadata attributes), a SavedModel (what
    tensorrt_optimize.py converts), and optimize_models.py's TFLite variants, the int-only one with uint8 input and
    output calibrated, as DLS calibrates it, on raw pixel values."""
    import h5py
    import tensorflow as tf
    files = {"Keras .h5": out / "pilotnet.h5", "Keras .h5 with DLS metadata": out / "pilotnet_meta.h5",
             "SavedModel": out / "pilotnet_savedmodel"}
    model.save(str(files["Keras .h5"]))
    model.save(str(files["Keras .h5 with DLS metadata"]))
    with h5py.File(files["Keras .h5 with DLS metadata"], "a") as f:
        for key, value in {"model": "pilotnet", "img_shape": DECLARED, "normalized_dataset": True,
                           "split_test_train": 0.3, "mse": 0.01}.items():
            f.attrs[key] = value
    model.export(str(files["SavedModel"]), verbose=False)
    raw = [cv2.resize(f, (DECLARED[1], DECLARED[0])).astype(np.float32)[None] for f in calibration_frames]

    def convert(kind: str, name: str, **settings) -> None:
        converter = tf.lite.TFLiteConverter.from_saved_model(str(files["SavedModel"]))
        for key, value in settings.items():
            setattr(converter.target_spec if key.startswith("supported_") else converter, key, value)
        files[kind] = out / name
        files[kind].write_bytes(converter.convert())

    convert("TFLite float", "pilotnet_model_baseline.tflite")
    convert("TFLite dynamic range", "pilotnet_model_dynamic_quant.tflite", optimizations=[tf.lite.Optimize.DEFAULT])
    convert("TFLite float16", "pilotnet_model_float16_quant.tflite", optimizations=[tf.lite.Optimize.DEFAULT],
            supported_types=[tf.float16])
    convert("TFLite int-only, uint8 I/O (calibrated on raw pixels)", "pilotnet_model_int_quant.tflite",
            optimizations=[tf.lite.Optimize.DEFAULT], representative_dataset=lambda: ([x] for x in raw),
            supported_ops=[tf.lite.OpsSet.TFLITE_BUILTINS_INT8], inference_input_type=tf.uint8,
            inference_output_type=tf.uint8)
    convert("TFLite int8 with float fallback (calibrated on raw pixels)", "pilotnet_model_intflt_quant.tflite",
            optimizations=[tf.lite.Optimize.DEFAULT], representative_dataset=lambda: ([x] for x in raw))
    return files
