"""The handwritten digits a small ViT learns: scikit-learn's copy of the UCI digits, split by a fixed seed, and a
learner's own image turned into the same 8×8 format.

    load_digits(): 1,797 images (8, 8), integers 0..16, labels 0..9. Each pixel counts the "on" pixels of a 4×4
    block of a 32×32 binary bitmap (the NIST preprocessing; scikit-learn's DESCR), so 0 is paper and 16 is ink.

The split is stratified by class and fixed by :data:`SPLIT_SEED`: train / valid / test = 1,257 / 180 / 360 images.
The valid split picks nothing in the shipped recipe but is reported on the card; the test split is held out
(never seen in training) and is the one the card's accuracy and the page's picker use.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from core.lab.image_input import ImageInputError

SPLIT_SEED = 0
SPLIT_SIZES: dict[str, int] = {"train": 1257, "valid": 180, "test": 360}
DIGIT_SIDE, DIGIT_MAX, BITMAP_SIDE = 8, 16.0, 32  # 8×8 pixels in 0..16: 4×4 blocks of a 32×32 bitmap
SOURCE = {
    "name": "Optical Recognition of Handwritten Digits (UCI; Alpaydin & Kaynak 1998), as bundled with scikit-learn",
    "loader": "sklearn.datasets.load_digits",
    "licence": "scikit-learn: BSD-3-Clause; the UCI data set: CC BY 4.0",
    "url": "https://archive.ics.uci.edu/dataset/80/optical+recognition+of+handwritten+digits",
}


@dataclass(frozen=True)
class DigitSplit:
    """One split: images ``(n, 8, 8)`` float32 in 0..16, labels ``(n,)`` int64, and each image's row in
    ``load_digits()`` (``(n,)``), so an example can be traced back to the data set."""

    images: np.ndarray
    labels: np.ndarray
    rows: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def of_class(self, digit: int) -> np.ndarray:
        """Indices (into this split) of the images labelled ``digit``, in split order."""
        return np.flatnonzero(self.labels == digit)


@lru_cache(maxsize=2)
def digit_splits(seed: int = SPLIT_SEED) -> dict[str, DigitSplit]:
    """{"train", "valid", "test"} -> :class:`DigitSplit`: a class-stratified split of all 1,797 digits (sizes in
    :data:`SPLIT_SIZES`), the same for the same ``seed`` and scikit-learn data."""
    from sklearn.datasets import load_digits  # imported here: scikit-learn takes ~1 s to import
    from sklearn.model_selection import train_test_split

    data = load_digits()
    rows = np.arange(len(data.target))
    rest, test = train_test_split(rows, test_size=SPLIT_SIZES["test"], stratify=data.target, random_state=seed)
    train, valid = train_test_split(rest, test_size=SPLIT_SIZES["valid"], stratify=data.target[rest],
                                    random_state=seed)
    return {name: DigitSplit(data.images[r].astype(np.float32), data.target[r].astype(np.int64), r)
            for name, r in (("train", train), ("valid", valid), ("test", test))}


def to_model_input(images: np.ndarray | Tensor) -> Tensor:
    """Digits ``(B, 8, 8)`` (or one ``(8, 8)``) in 0..16 -> ``(B, 1, 8, 8)`` float32 in [0, 1], what the ViT reads."""
    pixels = torch.as_tensor(np.asarray(images, dtype=np.float32)) / DIGIT_MAX
    return pixels.reshape(-1, 1, DIGIT_SIDE, DIGIT_SIDE)


def digit_from_image(rgb: np.ndarray) -> tuple[np.ndarray, str]:
    """A learner's picture of one digit (``(H, W, 3)`` uint8, e.g. from :func:`core.lab.image_input.load_image`)
    -> (an ``(8, 8)`` float32 digit in 0..16 made the way the data set's were, a sentence saying what was done).

    ink = 1 - grey/255 (inverted when the picture is light ink on a dark ground); crop to the ink's bounding box;
    pad to a square; resize to 32×32; binarise at 0.5; count the on pixels of each 4×4 block (0..16).
    Raises :class:`ImageInputError` when the picture has no ink to speak of (blank, or one flat colour).
    """
    grey = np.asarray(Image.fromarray(rgb).convert("L"), dtype=np.float32) / 255.0  # (H, W), 1 = white
    ink = 1.0 - grey
    inverted = bool(np.median(ink) > 0.5)  # mostly dark: light strokes on a dark ground
    if inverted:
        ink = grey
    if ink.max() - ink.min() < 0.2:
        raise ImageInputError("The image is one flat shade: there is no digit to read. Draw a dark digit on a "
                              "light background (or the reverse) and upload it again.")
    on = ink > (ink.min() + ink.max()) / 2  # (H, W) bool: the strokes
    ys, xs = np.nonzero(on)
    box = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]  # (h, w): the ink's bounding box
    side = max(box.shape)
    square = np.zeros((side, side), dtype=np.float32)
    top, left = (side - box.shape[0]) // 2, (side - box.shape[1]) // 2
    square[top : top + box.shape[0], left : left + box.shape[1]] = box  # centred, aspect kept
    scaled = Image.fromarray((square * 255).round().astype(np.uint8)).resize((BITMAP_SIDE, BITMAP_SIDE),
                                                                             Image.Resampling.BOX)
    bitmap = np.asarray(scaled) > 127  # (32, 32) bool
    block = BITMAP_SIDE // DIGIT_SIDE
    digit = bitmap.reshape(DIGIT_SIDE, block, DIGIT_SIDE, block).sum(axis=(1, 3)).astype(np.float32)  # (8, 8)
    h, w = rgb.shape[:2]
    message = (f"Your {w}×{h} picture became an 8×8 grey digit in the data set's 0–16 scale: "
               f"{'inverted (light ink on dark), ' if inverted else ''}cropped to the ink "
               f"({box.shape[1]}×{box.shape[0]} pixels), padded square, resized to a 32×32 black-and-white bitmap, "
               "and each 4×4 block's ink pixels counted, as the data set's digits were made.")
    return digit, message
