"""Model cards: preprocessing and postprocessing values, file round trips, and bad cards/images."""
import numpy as np
import pytest

from f1_brains.core.model_card import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    InputSpec,
    ModelCard,
    OutputSpec,
    card_path_for,
    preset,
    resize,
)
from f1_brains.core.synthetic import bgr, road_frame
from f1_brains.errors import BadImage, BadOutput, ConfigError


def test_nchw_unit_preprocess_matches_hand_computation():
    image = road_frame(0.3)
    x = ModelCard().preprocess(image)
    expected = resize(image[240:480], 200, 66, "box2_linear").astype(np.float32).transpose(2, 0, 1)[None] / 255
    assert x.shape == (1, 3, 66, 200) and x.dtype == np.float32 and x.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(x, expected, atol=1e-6)


def test_imagenet_nhwc_preprocess():
    image = np.full((480, 640, 3), 128, np.uint8)
    card = ModelCard(input=InputSpec(layout="NHWC", normalization="imagenet"))
    x = card.preprocess(image)
    assert x.shape == (1, 66, 200, 3)
    np.testing.assert_allclose(x[0, 0, 0], (128 / 255 - IMAGENET_MEAN) / IMAGENET_STD, atol=1e-5)


def test_a_uint8_card_feeds_the_pixels_as_2x2_blocks_in_space_to_depth_order():
    image = road_frame(0.3)
    pixels = ModelCard().crop_resize(image)
    card = ModelCard(input=InputSpec(layout="NHWC", dtype="uint8", space_to_depth=2))
    x = card.preprocess(image)
    assert card.input_shape == x.shape == (1, 33, 100, 12) and x.dtype == np.uint8 and x.flags["C_CONTIGUOUS"]
    for y, col, row_in_block, col_in_block, colour in [(0, 0, 0, 0, 0), (5, 17, 1, 0, 2), (32, 99, 1, 1, 1)]:
        channel = (row_in_block * 2 + col_in_block) * 3 + colour
        assert x[0, y, col, channel] == pixels[2 * y + row_in_block, 2 * col + col_in_block, colour]
    nchw = ModelCard(input=InputSpec(space_to_depth=2)).preprocess(image)   # float blocks: the same values / 255
    assert nchw.shape == (1, 12, 33, 100) and nchw.dtype == np.float32
    np.testing.assert_allclose(nchw, x.transpose(0, 3, 1, 2) / np.float32(255), atol=1e-7)
    assert card.input_range() == (0.0, 255.0)
    np.testing.assert_array_equal(card.from_unit(pixels[None] / np.float32(255)), x)   # fine-tuning's path


def test_crop_keeps_only_the_configured_rows():
    image = np.zeros((480, 640, 3), np.uint8)
    image[:240] = 255                       # the top half (sky) must not reach the network
    assert ModelCard().preprocess(image).max() == 0.0
    full = ModelCard(input=InputSpec(crop_rows=(0, 480)))
    assert full.preprocess(image).max() > 0.9


def test_bgr_input_is_converted_to_the_cards_colour_order():
    image = road_frame(-0.2)
    card = ModelCard()
    np.testing.assert_array_equal(card.preprocess(image, "rgb8"), card.preprocess(bgr(image), "bgr8"))
    red = np.zeros((480, 640, 3), np.uint8)
    red[..., 0] = 255
    x = card.preprocess(red, "rgb8")
    assert x[0, 0].min() == 1.0 and x[0, 2].max() == 0.0   # channel 0 is red for an rgb card


@pytest.mark.parametrize("image,encoding,match", [
    (np.zeros((480, 640, 3), np.uint8), "mono8", "encoding 'mono8'"),
    (np.zeros((240, 320, 3), np.uint8), "rgb8", r"\(240, 320, 3\)"),
    (np.zeros((480, 640, 3), np.float32), "rgb8", "float32"),
])
def test_bad_images_are_rejected_clearly(image, encoding, match):
    with pytest.raises(BadImage, match=match):
        ModelCard().preprocess(image, encoding)


def test_postprocess_denormalizes_to_dls_ranges():
    card = ModelCard()
    assert card.postprocess(np.array([0.0, 0.0])) == pytest.approx((6.5, -7.1))
    assert card.postprocess(np.array([1.0, 1.0])) == pytest.approx((24.0, 7.1))
    assert card.postprocess(np.array([0.5, 0.5])) == pytest.approx((15.25, 0.0))
    raw = ModelCard(output=OutputSpec(normalized=False))
    assert raw.postprocess(np.array([3.0, -1.5])) == (3.0, -1.5)


@pytest.mark.parametrize("raw", [np.array([np.nan, 0.1]), np.array([0.2, np.inf]), np.array([0.3])])
def test_postprocess_rejects_nonfinite_or_short_outputs(raw):
    with pytest.raises(BadOutput):
        ModelCard().postprocess(raw)


def test_card_file_round_trip(tmp_path):
    card = ModelCard(name="x", precision="int8", input=InputSpec(layout="NHWC", crop_rows=(200, 480)),
                     provenance={"weights": "w.pt"})
    path = card.save(tmp_path / "m.onnx.card.yaml")
    assert ModelCard.load(path) == card


@pytest.mark.parametrize("text,match", [
    ("input: {layout: CHW}", "input.layout"),
    ("input: {colour: rgb}", "colour"),
    ("input: {crop_rows: [300, 600]}", "crop_rows"),
    ("input: {dtype: int16}", "input.dtype must be one of"),
    ("input: {space_to_depth: 3}", "space_to_depth must be a whole number >= 1 dividing height 66 and width 200"),
    ("output: {names: [w, v]}", "output.names"),
    ("[1, 2]", "mapping"),
    ("input: {layout: [", "not valid YAML"),
])
def test_bad_card_files_give_clear_errors(tmp_path, text, match):
    path = tmp_path / "m.card.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        ModelCard.load(path)


def test_missing_card_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match="nope.onnx.card.yaml"):
        ModelCard.load(card_path_for(tmp_path / "nope.onnx"))


def test_presets_for_deeplearningstudio_artifacts():
    torch_card, tf_card = preset("dls_pytorch_pilotnet"), preset("dls_tf_pilotnet")
    assert torch_card.input_shape == (1, 3, 66, 200) and torch_card.input.crop_rows == (240, 480)
    assert tf_card.input_shape == (1, 66, 200, 3) and tf_card.input.normalization == "imagenet"
    assert tf_card.input.crop_rows == (0, 480)   # DLS's TF training never cropped
    with pytest.raises(ConfigError, match="unknown model card preset"):
        preset("nope")
