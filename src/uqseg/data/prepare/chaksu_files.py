"""The Chákṣu IMAGE folder tree and its files (docs/method.md §8).

Layout (folder names matched case-insensitively, as the archive's capitalisation varies between experts)::

    <root>/Train|Test/1.0_Original_Fundus_Images/<Bosch|Forus|Remidio>/<image>
    <root>/Train|Test/3.0_Doctors_Annotations_Binary_OD_OC/<Expert k>/<device>/<Disc|Cup>/<stem>.<ext>

Images and masks are matched by file stem, case-insensitively; accepted file types are png, jpg, jpeg, bmp, tif
and tiff. A mask is binarised as follows: values all in {0, 1} are taken as they are; otherwise a pixel is
foreground when its grey value is > 127 (lossy JPEG masks are not exactly 0/255). A mask with more than 5 % of
its pixels in the ambiguous grey range 32–223, a mask of a different size than its image, and a mask that
covers the whole image are rejected.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from uqseg.errors import InputError

PARTS = ("Train", "Test")
DEVICES = ("Bosch", "Forus", "Remidio")
IMAGE_DIR = "1.0_Original_Fundus_Images"
ANNOTATION_DIR = "3.0_Doctors_Annotations_Binary_OD_OC"
NUM_EXPERTS = 5
FILE_TYPES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})
MASK_THRESHOLD = 127
AMBIGUOUS_RANGE = (32, 223)
MAX_AMBIGUOUS_FRACTION = 0.05


@dataclass(frozen=True)
class ChaksuImage:
    """One fundus image and, per expert (in expert order), its (disc, cup) mask files."""

    part: str
    device: str
    path: Path
    masks: tuple[tuple[Path, Path], ...]

    @property
    def stem(self) -> str:
        return self.path.stem

    @property
    def id(self) -> str:
        return f"{self.part}/{self.device}/{self.stem}"


def child_dir(parent: Path, name: str) -> Path:
    """The sub-directory of ``parent`` called ``name`` (case-insensitive); InputError if absent or ambiguous."""
    if not parent.is_dir():
        raise InputError(f"folder {parent} does not exist")
    matches = [p for p in parent.iterdir() if p.is_dir() and p.name.lower() == name.lower()]
    if not matches:
        found = sorted(p.name for p in parent.iterdir() if p.is_dir())
        raise InputError(f"folder {parent / name} is missing (found {found})")
    if len(matches) > 1:
        raise InputError(f"folder {parent} has several folders named {name!r} in different case")
    return matches[0]


def expert_dirs(annotations: Path) -> list[Path]:
    """The 5 ``Expert<k>`` folders of an annotation folder, ordered by k."""
    experts = []
    for path in annotations.iterdir():
        match = re.fullmatch(r"expert[\s_-]*(\d+)", path.name.strip().lower())
        if path.is_dir() and match:
            experts.append((int(match.group(1)), path))
    if len(experts) != NUM_EXPERTS or len({k for k, _ in experts}) != NUM_EXPERTS:
        raise InputError(f"folder {annotations}: expected {NUM_EXPERTS} expert folders Expert1 … Expert5, found "
                         f"{sorted(p.name for _, p in experts)}")
    return [path for _, path in sorted(experts)]


def image_files(folder: Path) -> list[Path]:
    """Image files below ``folder`` (any depth), in the order of their relative path parts."""
    files = [p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in FILE_TYPES]
    return sorted(files, key=lambda p: p.relative_to(folder).parts)


def index_by_stem(folder: Path) -> dict[str, Path]:
    """Map lower-cased stem → file for the image files directly in ``folder``; InputError on a duplicate stem."""
    index: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in FILE_TYPES:
            key = path.stem.lower()
            if key in index:
                raise InputError(f"folder {folder}: {index[key].name} and {path.name} have the same stem")
            index[key] = path
    return index


def discover(root: Path) -> dict[tuple[str, str], list[ChaksuImage]]:
    """Every image of the tree with its 5 experts' disc and cup masks, keyed by (part, device)."""
    found: dict[tuple[str, str], list[ChaksuImage]] = {}
    for part in PARTS:
        part_dir = child_dir(root, part)
        image_root, annotation_root = child_dir(part_dir, IMAGE_DIR), child_dir(part_dir, ANNOTATION_DIR)
        experts = expert_dirs(annotation_root)
        for device in DEVICES:
            device_dir = child_dir(image_root, device)
            images = image_files(device_dir)
            if not images:
                raise InputError(f"folder {device_dir} holds no images ({', '.join(sorted(FILE_TYPES))})")
            _check_unique_stems(device_dir, images)
            indices = []
            for expert in experts:
                mask_root = child_dir(expert, device)
                indices.append((index_by_stem(child_dir(mask_root, "Disc")), index_by_stem(child_dir(mask_root,
                                                                                                     "Cup"))))
            found[(part, device)] = [_with_masks(part, device, path, experts, indices) for path in images]
    return found


def _check_unique_stems(folder: Path, images: list[Path]) -> None:
    seen: dict[str, Path] = {}
    for path in images:
        if path.stem.lower() in seen:
            raise InputError(f"folder {folder}: {seen[path.stem.lower()]} and {path} have the same stem")
        seen[path.stem.lower()] = path


def _with_masks(part: str, device: str, path: Path, experts: list[Path],
                indices: list[tuple[dict[str, Path], dict[str, Path]]]) -> ChaksuImage:
    key = path.stem.lower()
    if not any(key in disc or key in cup for disc, cup in indices):
        raise InputError(f"image {path} has no masks: no Disc or Cup file with stem {path.stem!r} from any expert")
    masks = []
    for expert, (disc, cup) in zip(experts, indices, strict=True):
        for kind, index in (("Disc", disc), ("Cup", cup)):
            if key not in index:
                raise InputError(f"image {path}: {expert.name} has no {kind} mask with stem {path.stem!r} in "
                                 f"{expert / device / kind}")
        masks.append((disc[key], cup[key]))
    return ChaksuImage(part, device, path, tuple(masks))


def _open(path: Path) -> tuple[Image.Image, str]:
    try:
        data = path.read_bytes()
        picture = Image.open(io.BytesIO(data))
        picture.load()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise InputError(f"{path}: not a readable image ({err})") from None
    return picture, hashlib.sha256(data).hexdigest()


def read_image(path: Path) -> tuple[np.ndarray, str]:
    """An RGB fundus image as H×W×3 uint8 (pixel order as stored, no EXIF rotation) and its file's SHA-256."""
    picture, digest = _open(path)
    return np.asarray(picture.convert("RGB"), dtype=np.uint8), digest


def read_mask(path: Path, shape: tuple[int, int]) -> tuple[np.ndarray, str]:
    """A binary H×W mask (module docstring for the rules) and its file's SHA-256; ``shape`` is the image's."""
    picture, digest = _open(path)
    if picture.mode not in ("1", "L", "P", "LA", "RGB", "RGBA", "I;16", "I"):
        raise InputError(f"mask {path}: unsupported image mode {picture.mode}")
    if picture.mode in ("I;16", "I"):
        values = np.clip(np.asarray(picture, dtype=np.int64), 0, None)
        top = int(values.max())
        grey = (values if top <= 1 else values * 255 // top).astype(np.uint8)
    else:
        grey = np.asarray(picture.convert("L"), dtype=np.uint8)
    if grey.shape != tuple(shape):
        raise InputError(f"mask {path}: shape {grey.shape[0]}×{grey.shape[1]} differs from its image "
                         f"{shape[0]}×{shape[1]}")
    if grey.max() <= 1:
        mask = grey == 1
    else:
        ambiguous = float(((grey > AMBIGUOUS_RANGE[0]) & (grey < AMBIGUOUS_RANGE[1])).mean())
        if ambiguous > MAX_AMBIGUOUS_FRACTION:
            raise InputError(f"mask {path}: not a binary mask ({ambiguous:.0%} of its pixels are grey values "
                             f"between {AMBIGUOUS_RANGE[0]} and {AMBIGUOUS_RANGE[1]})")
        mask = grey > MASK_THRESHOLD
    if mask.all():
        raise InputError(f"mask {path}: covers the whole image")
    return mask, digest
