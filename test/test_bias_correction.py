"""int8 bias correction (zoo.bias_correction), checked against PyTorch's own quantizer."""
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from f1_brains.core import pilotnet
from f1_brains.core.backends.tflite import TFLiteBackend
from f1_brains.core.exports import export_tflite
from f1_brains.zoo import bias_correction as bc
from f1_brains.zoo.export import NCHW_CARD, calibration_batches
from f1_brains.zoo.tflite_formats import export_tflite_int8

TORCH_INT8_LEVELS = 127.5   # PyTorch's per-channel symmetric observer: max|w| / ((127 - -128) / 2)


@pytest.fixture(scope="module")
def frames():
    return np.concatenate(calibration_batches(NCHW_CARD, 48, seed=3))


def test_rounding_error_is_what_pytorch_per_channel_quantization_does():
    weight = torch.randn(8, 3, 5, 5, generator=torch.Generator().manual_seed(0)) * torch.linspace(0.1, 2, 8)[:, None, None, None]
    weight[3] = 0.0   # a pruned channel
    peak = weight.abs().amax(dim=(1, 2, 3), keepdim=True)
    scales = (peak.flatten() / TORCH_INT8_LEVELS).clamp(min=1e-12)
    real = torch.quantize_per_channel(weight, scales.double(), torch.zeros(8, dtype=torch.long), 0, torch.qint8)
    # Each channel's largest weight sits on a tie (+-127.5 steps), which float rounding can send either way.
    ties = (weight.abs() == peak) & (peak > 0)
    ours, theirs = bc.rounding_error(weight, TORCH_INT8_LEVELS), real.dequantize() - weight
    torch.testing.assert_close(ours[~ties], theirs[~ties], atol=1e-6, rtol=0)
    assert torch.all((ours[ties] - theirs[ties]).abs() <= scales.max() * 1.001)
    assert bc.rounding_error(weight).abs().amax() > 0   # it is not trivially zero


def _with_rounded_weights(model):
    rounded = pilotnet.torch_pilotnet(seed=None)
    rounded.load_state_dict(model.state_dict())
    with torch.no_grad():
        for layer in bc._weight_layers(rounded):
            layer.weight += bc.rounding_error(layer.weight)
    return rounded


def test_corrected_biases_cancel_the_first_layers_mean_rounding_shift(frames):
    model = pilotnet.torch_pilotnet(seed=0)
    corrected = bc.correct_weight_rounding(model, frames)
    x = torch.from_numpy(frames)

    def first_conv_means(m):   # per channel, over frames and positions, before the ReLU
        with torch.no_grad():
            return m[1](m[0](x)).mean((0, 2, 3))

    float_means = first_conv_means(model)
    shift_before = (first_conv_means(_with_rounded_weights(model)) - float_means).abs().max()
    shift_after = (first_conv_means(_with_rounded_weights(corrected)) - float_means).abs().max()
    assert shift_before > 1e-4 and shift_after < 1e-5, (shift_before, shift_after)
    # Only biases move; the weights, which the converter quantizes, are untouched.
    for a, b in zip(bc._weight_layers(model), bc._weight_layers(corrected)):
        assert torch.equal(a.weight, b.weight)


def test_bias_corrected_tflite_int8_has_little_mean_output_error_left(frames, tmp_path):
    """The shipped path (export_tflite_int8) against a plain conversion of the same folded model. An untrained
    PilotNet's outputs barely vary (std 1e-5, under one int8 output step), so only the output's own rounding
    would decide its mean error; tripled weights spread the outputs over many steps, as training does."""
    model = pilotnet.torch_pilotnet(seed=0)
    with torch.no_grad():
        for layer in bc._weight_layers(model):
            layer.weight *= 3.0
    calibration = lambda: [f.transpose(1, 2, 0)[None] for f in frames]   # noqa: E731  NHWC batches of one
    reference = bc._forward(model, frames)

    def mean_error(path):
        return np.abs((TFLiteBackend(path).predict(frames.transpose(0, 2, 3, 1)) - reference).mean(0))

    with tempfile.TemporaryDirectory() as saved_model:
        pilotnet.keras_twin(pilotnet.fold_input_batchnorm(model)).export(saved_model, verbose=False)
        export_tflite(Path(saved_model), tmp_path / "plain.tflite", "int8", calibration)
    export_tflite_int8(model, tmp_path / "corrected.tflite", calibration, frames)
    plain, corrected = mean_error(tmp_path / "plain.tflite"), mean_error(tmp_path / "corrected.tflite")
    assert np.all(corrected < 0.25 * plain), (plain, corrected)
