"""core.lab.image_input: PNG/JPEG in any mode decodes to RGB; every bad upload gets an ImageInputError with a message."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from core.lab.image_input import MAX_BYTES, MAX_SIDE, ImageInputError, load_image


def encode(image: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def test_the_error_is_a_value_error():
    assert issubclass(ImageInputError, ValueError)


def test_png_rgb_round_trips_exactly():
    pixels = np.random.default_rng(0).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    out = load_image(encode(Image.fromarray(pixels)))
    assert out.dtype == np.uint8 and out.shape == (7, 5, 3)
    np.testing.assert_array_equal(out, pixels)


def test_jpeg_decodes_close_to_the_original():
    pixels = np.full((16, 16, 3), (200, 40, 90), dtype=np.uint8)
    out = load_image(encode(Image.fromarray(pixels), "JPEG", quality=95))
    assert out.shape == (16, 16, 3)
    assert np.abs(out.astype(int) - pixels).max() <= 6


def test_transparency_is_composited_on_white():
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)  # opaque red; the other pixels are fully transparent
    out = load_image(encode(Image.fromarray(rgba, "RGBA")))
    assert tuple(out[0, 0]) == (255, 0, 0)
    assert tuple(out[1, 1]) == (255, 255, 255)


@pytest.mark.parametrize("mode", ["L", "P", "LA", "I;16", "1", "CMYK"])
def test_other_modes_become_rgb(mode):
    image = Image.new("RGB", (6, 4), (120, 120, 120)).convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    out = load_image(encode(image, fmt))
    assert out.shape == (4, 6, 3) and out.dtype == np.uint8


def test_empty_file():
    with pytest.raises(ImageInputError, match="empty"):
        load_image(b"")


def test_file_too_large_says_the_limit():
    data = encode(Image.new("RGB", (64, 64)))
    with pytest.raises(ImageInputError, match=r"limit is 0\.0 MB|limit"):
        load_image(data, max_bytes=10)
    assert MAX_BYTES == 5 * 2**20


def test_too_many_pixels_a_side_is_refused_before_decoding():
    data = encode(Image.new("L", (MAX_SIDE + 1, 1)))  # tiny file, too wide
    with pytest.raises(ImageInputError, match=f"{MAX_SIDE + 1}×1 pixels.*at most {MAX_SIDE}"):
        load_image(data)
    assert load_image(encode(Image.new("L", (MAX_SIDE, 1)))).shape == (1, MAX_SIDE, 3)


@pytest.mark.parametrize("data", [b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, b"<svg/>"])
def test_garbage_is_not_an_image(data):
    with pytest.raises(ImageInputError, match="PNG or JPEG"):
        load_image(data)


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF", "WEBP"])
def test_other_formats_are_named_and_refused(fmt):
    data = encode(Image.new("RGB", (4, 4)), fmt)
    with pytest.raises(ImageInputError, match=f"{fmt}.*only PNG and JPEG"):
        load_image(data)


def test_truncated_file_cannot_be_decoded():
    pixels = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data = encode(Image.fromarray(pixels))
    with pytest.raises(ImageInputError, match="could not be decoded"):
        load_image(data[: len(data) // 2])


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (6, 2), (0, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    out = load_image(encode(image, "JPEG", exif=exif.tobytes()))
    assert out.shape == (6, 2, 3)
