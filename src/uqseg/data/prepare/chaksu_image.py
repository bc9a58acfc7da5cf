"""One Chákṣu IMAGE sample from raw files to 128×128 arrays (docs/method.md §8, paper §3.1).

Per expert: the largest connected component of the disc and of the cup mask (4-connectivity, SciPy's default),
then disc := disc ∪ cup and cup := cup ∩ disc, giving labels 0 background, 1 disc rim, 2 cup. The crop is a
square of side ``round(2 × mean disc diameter of the device)`` centred on the midpoint of the bounding box of the
union of the experts' (processed) disc masks; the corner is ``round(centre − side / 2)``. Parts outside the image
are zero. The crop is resized to 128 with Pillow, bilinear for the image (uint8, as the authors did) and nearest
for the label maps. Rows stay rows and columns stay columns throughout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from uqseg.data.prepare.chaksu_files import ChaksuImage, read_image, read_mask
from uqseg.errors import InputError

MEAN_DISC_DIAMETER = {"Bosch": 225.29, "Forus": 325.02, "Remidio": 448.05}
CROP_DIAMETERS = 2.0
IMAGE_SIZE = 128
BACKGROUND, RIM, CUP = 0, 1, 2


@dataclass(frozen=True)
class Crop:
    """A square crop window: top row, left column and side length, in source pixels (may reach outside)."""

    top: int
    left: int
    size: int


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 4-connected foreground component of a binary mask (an empty mask stays empty)."""
    labelled, count = ndimage.label(np.asarray(mask, dtype=bool))
    if count <= 1:
        return labelled > 0
    sizes = np.bincount(labelled.ravel())
    sizes[0] = 0
    return labelled == int(sizes.argmax())


def expert_label(disc: np.ndarray, cup: np.ndarray) -> np.ndarray:
    """Labels 0/1/2 (uint8) from one expert's raw disc and cup masks: LCC each, disc ∪= cup, cup ∩= disc."""
    disc, cup = largest_component(disc), largest_component(cup)
    disc = disc | cup
    cup = cup & disc
    label = np.zeros(disc.shape, dtype=np.uint8)
    label[disc] = RIM
    label[cup] = CUP
    return label


def crop_for(labels: np.ndarray, device: str) -> Crop:
    """The device's crop window centred on the bounding box of the union of the disc masks (labels > 0, K×H×W)."""
    union = (np.asarray(labels) > BACKGROUND).any(axis=0)
    rows, cols = np.flatnonzero(union.any(axis=1)), np.flatnonzero(union.any(axis=0))
    if rows.size == 0:
        raise ValueError("every expert's disc mask is empty")
    size = round(CROP_DIAMETERS * MEAN_DISC_DIAMETER[device])
    centre_y, centre_x = float(rows[0] + rows[-1]) / 2.0, float(cols[0] + cols[-1]) / 2.0
    return Crop(round(centre_y - size / 2.0), round(centre_x - size / 2.0), size)


def crop_square(array: np.ndarray, crop: Crop) -> np.ndarray:
    """The window ``crop`` of an H×W(×C) array; pixels outside the array are zero."""
    height, width = array.shape[:2]
    out = np.zeros((crop.size, crop.size, *array.shape[2:]), dtype=array.dtype)
    top, left = max(crop.top, 0), max(crop.left, 0)
    bottom, right = min(crop.top + crop.size, height), min(crop.left + crop.size, width)
    if bottom > top and right > left:
        out[top - crop.top:bottom - crop.top, left - crop.left:right - crop.left] = array[top:bottom, left:right]
    return out


def resize(array: np.ndarray, size: int, resample: Image.Resampling) -> np.ndarray:
    """Resize a uint8 H×W or H×W×3 array to size×size with Pillow."""
    return np.asarray(Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8)).resize((size, size), resample))


def process_sample(image: np.ndarray, masks: list[tuple[np.ndarray, np.ndarray]], device: str,
                   size: int = IMAGE_SIZE) -> tuple[np.ndarray, np.ndarray, Crop]:
    """From an H×W×3 uint8 image and each expert's (disc, cup) masks: the 3×size×size float32 image in [0, 1],
    the K×size×size uint8 labels and the crop window used."""
    labels = np.stack([expert_label(disc, cup) for disc, cup in masks])
    crop = crop_for(labels, device)
    picture = resize(crop_square(image, crop), size, Image.Resampling.BILINEAR)
    maps = np.stack([resize(crop_square(label, crop), size, Image.Resampling.NEAREST) for label in labels])
    return np.moveaxis(picture, -1, 0).astype(np.float32) / 255.0, maps.astype(np.uint8), crop


def load_sample(item: ChaksuImage) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int], list[str]]:
    """Read and process one image: (3×128×128 image, 5×128×128 labels, crop (top, left, side), file digests)."""
    image, digest = read_image(item.path)
    digests = [digest]
    masks = []
    for disc_path, cup_path in item.masks:
        disc, disc_digest = read_mask(disc_path, image.shape[:2])
        cup, cup_digest = read_mask(cup_path, image.shape[:2])
        masks.append((disc, cup))
        digests += [disc_digest, cup_digest]
    try:
        picture, labels, crop = process_sample(image, masks, item.device)
    except ValueError as err:
        raise InputError(f"image {item.path}: {err}") from None
    return picture, labels, (crop.top, crop.left, crop.size), digests
