"""A miniature Chákṣu IMAGE tree in the original layout, built in code (docs/method.md §8).

5 experts, 3 devices, Train/Test, mixed file types and folder-name case. Every image is non-symmetric: the red
channel ramps along columns, the green channel along rows. Each device's disc sits off-centre and the cup is
off-centre inside it (up and to the left), so a transpose or a flip changes where things land.

Expert quirks, the same for every image: Expert2's disc has a stray blob far away (the largest component must
win); Expert3's cup straddles the left edge of its disc (disc := disc ∪ cup must take it in).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_DIR = "1.0_Original_Fundus_Images"
ANNOTATION_DIR = "3.0_Doctors_Annotations_Binary_OD_OC"
EXPERT_NAMES = ("Expert1", "Expert 2", "expert3", "Expert4", "Expert5")


@dataclass(frozen=True)
class DeviceSpec:
    """Image size, disc centre and radius, cup offset and radius, image file type, mask file type."""

    shape: tuple[int, int]
    disc_centre: tuple[int, int]
    disc_radius: int
    cup_offset: tuple[int, int]
    cup_radius: int
    image_ext: str
    mask_ext: str


DEVICES = {
    "Bosch": DeviceSpec((240, 320), (100, 190), 45, (-10, -16), 12, ".jpg", ".tif"),
    "Forus": DeviceSpec((300, 360), (170, 140), 60, (-14, -22), 18, ".png", ".bmp"),
    "Remidio": DeviceSpec((420, 560), (180, 330), 100, (-25, -45), 25, ".tif", ".png"),
}
COUNTS = {("Train", "Bosch"): 2, ("Train", "Forus"): 1, ("Train", "Remidio"): 6,
          ("Test", "Bosch"): 1, ("Test", "Forus"): 2, ("Test", "Remidio"): 2}


def disk(shape: tuple[int, int], centre: tuple[float, float], radius: float) -> np.ndarray:
    """A filled disk as a boolean H×W mask."""
    rows, cols = np.ogrid[:shape[0], :shape[1]]
    return (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius ** 2


def raw_masks(device: str, index: int, expert: int) -> tuple[np.ndarray, np.ndarray]:
    """Expert ``expert``'s (disc, cup) boolean masks of image ``index`` of ``device`` (quirks in the docstring)."""
    spec = DEVICES[device]
    cy, cx = spec.disc_centre[0] + index, spec.disc_centre[1] - index
    disc = disk(spec.shape, (cy, cx), spec.disc_radius - 2 * expert)
    cup_centre = (cy + spec.cup_offset[0], cx + spec.cup_offset[1])
    cup = disk(spec.shape, cup_centre, spec.cup_radius + expert)
    if expert == 1:
        disc |= disk(spec.shape, (spec.shape[0] - 12, 12), 6)
    if expert == 2:
        cup = disk(spec.shape, (cy, cx - spec.disc_radius + 2), 10)
    return disc, cup


def image(device: str, index: int) -> np.ndarray:
    """The H×W×3 uint8 image: red = column ramp, green = row ramp, blue = the disc of Expert1."""
    spec = DEVICES[device]
    height, width = spec.shape
    out = np.zeros((height, width, 3), dtype=np.uint8)
    out[..., 0] = np.linspace(0, 255, width, dtype=np.float64)[None, :].round().astype(np.uint8)
    out[..., 1] = np.linspace(0, 255, height, dtype=np.float64)[:, None].round().astype(np.uint8)
    out[..., 2] = np.where(raw_masks(device, index, 0)[0], 200, 20 + index)
    return out


def stem(part: str, device: str, index: int) -> str:
    return f"{device[:2]}{part[:2]}_{index:02d}"


def save(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def build_chaksu_tree(root: Path) -> Path:
    """Write the miniature tree under ``root`` and return ``root``."""
    for (part, device), count in COUNTS.items():
        spec = DEVICES[device]
        for index in range(count):
            name = stem(part, device, index)
            save(image(device, index), root / part / IMAGE_DIR / device / f"{name}{spec.image_ext}")
            for expert, expert_name in enumerate(EXPERT_NAMES):
                disc, cup = raw_masks(device, index, expert)
                folder = root / part / ANNOTATION_DIR / expert_name / device
                kinds = ("disc", "cup") if expert == 2 else ("Disc", "Cup")
                for kind, mask in zip(kinds, (disc, cup), strict=True):
                    save(mask.astype(np.uint8) * 255, folder / kind / f"{name}{spec.mask_ext}")
    return root
