"""The brain node decodes camera images by their step: padded rows are legal and must not turn into garbage."""
import numpy as np
import pytest
from sensor_msgs.msg import Image

from f1_brains.errors import BadImage
from f1_brains.ros.brain_node import decode_image


def image(pixels: np.ndarray, pad: int = 0, encoding: str = "rgb8", cut: int = 0) -> Image:
    h, w, _ = pixels.shape
    rows = np.concatenate([pixels.reshape(h, w * 3), np.full((h, pad), 77, np.uint8)], axis=1)
    data = rows.tobytes()
    return Image(height=h, width=w, encoding=encoding, step=w * 3 + pad, data=data[:len(data) - cut])


def test_padded_rows_decode_to_the_same_pixels():
    pixels = np.random.default_rng(0).integers(0, 256, (480, 640, 3), np.uint8)
    for pad in (0, 64):    # step 1920 and 1984
        np.testing.assert_array_equal(decode_image(image(pixels, pad)), pixels)


@pytest.mark.parametrize("msg,match", [
    (image(np.zeros((4, 5, 3), np.uint8), encoding="mono8"), "encoding 'mono8'"),
    (image(np.zeros((4, 5, 3), np.uint8), cut=1), "data holds 59 bytes; 4 rows of step 15 need 60"),
    (Image(height=4, width=5, encoding="rgb8", step=14, data=bytes(56)), "step 14 is shorter than one row"),
    (Image(height=0, width=5, encoding="rgb8", step=15, data=b""), "empty"),
])
def test_bad_images_are_refused_with_the_reason(msg, match):
    with pytest.raises(BadImage, match=match):
        decode_image(msg)
