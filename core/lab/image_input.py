"""Validate a learner's uploaded image before anything touches its pixels.

Checks, in the order a cheap check can reject a bad file early:
    1. size in bytes (<= ``MAX_BYTES``), and not empty;
    2. PIL can identify it and the format is PNG or JPEG (the header is read, the pixels are not);
    3. width and height in 1..``MAX_SIDE`` (read from the header, so a "pixel bomb" is refused before decoding);
    4. the pixels decode (a truncated or corrupt file is refused here);
    5. converted to RGB: transparency is composited on white, palette / grey / CMYK images become RGB.

Every refusal raises :class:`ImageInputError` (a ``ValueError``) whose message says what is wrong and what to do.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.measure.memory import MIB

MAX_BYTES = 5 * MIB
MAX_SIDE = 4096  # pixels, per side
ALLOWED_FORMATS: tuple[str, ...] = ("PNG", "JPEG")
UPLOAD_TYPES: tuple[str, ...] = ("png", "jpg", "jpeg")  # for st.file_uploader(type=...)


class ImageInputError(ValueError):
    """An uploaded image was refused; ``str(error)`` is a message written for the learner."""


def _megabytes(n_bytes: int) -> str:
    return f"{n_bytes / MIB:.1f} MB"


def load_image(data: bytes, *, max_bytes: int = MAX_BYTES, max_side: int = MAX_SIDE) -> np.ndarray:
    """Validate and decode an uploaded PNG/JPEG. -> ``(H, W, 3)`` uint8 RGB array.

    Raises :class:`ImageInputError` for an empty or too large file, a file that is not a PNG/JPEG image,
    dimensions above ``max_side``, or pixels that cannot be decoded.
    """
    if not data:
        raise ImageInputError("The uploaded file is empty. Choose a PNG or JPEG image.")
    if len(data) > max_bytes:
        raise ImageInputError(
            f"The file is {_megabytes(len(data))}; the limit is {_megabytes(max_bytes)}. "
            "Upload a smaller image (or save it as JPEG, which is usually much smaller)."
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)  # turn PIL's bomb warning into a refusal
        try:
            image = Image.open(io.BytesIO(data))  # lazy: reads the header only
        except (UnidentifiedImageError, OSError, Image.DecompressionBombWarning, Image.DecompressionBombError) as err:
            raise ImageInputError(
                "This file is not an image that can be read. Upload a PNG or JPEG file."
            ) from err
        if image.format not in ALLOWED_FORMATS:
            raise ImageInputError(
                f"This is a {image.format or 'unknown'} file; only PNG and JPEG images are accepted. "
                "Convert it to PNG or JPEG and upload it again."
            )
        width, height = image.size
        if not (1 <= width <= max_side and 1 <= height <= max_side):
            raise ImageInputError(
                f"The image is {width}×{height} pixels; each side must be at most {max_side} pixels. "
                "Resize it and upload it again."
            )
        try:
            image.load()  # decode the pixels now, so a corrupt file fails here and not later
            image = ImageOps.exif_transpose(image)  # phone photos: honour the orientation tag
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as err:
            raise ImageInputError(
                "The image could not be decoded (the file may be truncated or corrupt). Try another file."
            ) from err
    return np.asarray(to_rgb(image), dtype=np.uint8)  # (H, W, 3)


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode -> RGB; transparent pixels are composited on a white background."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):  # 16-bit / float grey: rescale to 0..255
        values = np.asarray(image, dtype=np.float64)
        span = values.max() - values.min()
        grey = (values - values.min()) / span * 255 if span > 0 else np.zeros_like(values)
        return Image.fromarray(grey.astype(np.uint8)).convert("RGB")
    return image.convert("RGB")
