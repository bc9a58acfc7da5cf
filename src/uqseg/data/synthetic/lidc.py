"""``synthetic-lidc``: grey, lesion-centred crops with 4 annotators, presence and boundary ambiguity.

Scene: a lung-like background (a smooth random field, 3 curved vessel ridges, a chest wall on one side of some
crops) with one lesion near the centre: a rotated, wavy ellipse of radius 15–30 % of the side with a soft (sigmoid)
edge of width 2–4 % of the side. 30 % of lesions are faint (contrast U[0.15, 0.45]); the rest are clear (U[0.6, 1.0]).

Annotator model (exact): annotator ``k`` marks the lesion at all with probability ``π(c) = clip((c − 0.1)/0.4, 0, 1)
^ a`` (``c`` the lesion contrast, ``a`` the ambiguity; clear lesions have π = 1), independently draws a level ``t``
(:mod:`uqseg.data.synthetic.annotators`) and, if marking, marks ``p(x) ≥ t``. The oracle is therefore
``P(lesion at x) = π(c) · F(x)`` and ``P(background) = 1 − π(c)·F(x)``.

Images are raw intensities mapped to roughly zero mean and unit scale by a fixed affine map (``(raw − 0.4)/0.25``),
so contrast differences between images survive. OOD splits: the test images under the four docs/method.md §8 shifts
(seed ``7 + seed``) with the test annotations and oracle unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from uqseg.data.contract import DatasetInfo
from uqseg.data.shifts import SHIFT_NAMES, apply_shift
from uqseg.data.synthetic import annotators, shapes
from uqseg.data.synthetic.options import SyntheticOptions, split_rngs

NAME = "synthetic-lidc"
NUM_ANNOTATORS = 4
DATASET_TAG = 1
OOD_SEED = 7
FAINT_FRACTION = 0.3
FAINT_CONTRAST = (0.15, 0.45)
CLEAR_CONTRAST = (0.6, 1.0)
RAW_MEAN, RAW_SCALE = 0.4, 0.25
DEFAULT_SHIFT_SEVERITY = {"noise": 6.0, "blur": 8.0, "contrast": 3.0, "jpeg": 4.0}
"""Severities that make each shift visible at 32–64 px (docs/datasets.md, "Shift severity"); 1 = the paper's."""
DEFAULTS = {"image_size": 64, "n_train": 600, "n_val": 100, "n_test": 200, "seed": 0, "ambiguity": 1.0}


def info(image_size: int) -> DatasetInfo:
    """Static facts of synthetic-lidc at ``image_size``."""
    return DatasetInfo(name=NAME, num_classes=2, in_channels=1, num_annotators=NUM_ANNOTATORS,
                       image_size=(image_size, image_size), ood_splits=tuple(f"ood-{s}" for s in SHIFT_NAMES),
                       class_names=("background", "lesion"))


def split_severity(shift_severity: dict[str, float]) -> dict[str, float]:
    """The severity of each OOD split (``ood-<shift>``)."""
    return {f"ood-{shift}": shift_severity[shift] for shift in SHIFT_NAMES}


def marking_probability(contrast: np.ndarray, ambiguity: float) -> np.ndarray:
    """π(c): the probability that an annotator marks a lesion of contrast ``c`` at all."""
    base = np.clip((np.asarray(contrast, dtype=np.float64) - 0.1) / 0.4, 0.0, 1.0)
    return (base ** float(ambiguity)).astype(np.float32)


@dataclass(frozen=True)
class LesionScenes:
    """The parameters that fix both the images and the annotator distribution of N lesion crops."""

    profile: np.ndarray
    contrast: np.ndarray
    presence: np.ndarray
    levels: np.ndarray

    def oracle(self) -> np.ndarray:
        """The exact annotator distribution, N×2×H×W float32 (background, lesion)."""
        lesion = self.presence[:, None, None] * annotators.level_fraction(self.profile, self.levels)
        return np.stack([1.0 - lesion, lesion], axis=1).astype(np.float32)

    def annotate(self, rng: np.random.Generator, n_annotators: int) -> np.ndarray:
        """Draw ``n_annotators`` independent annotators per image from the model: int64 N×K×H×W."""
        n = len(self.contrast)
        marks = rng.random((n, n_annotators)) < self.presence[:, None]
        drawn = annotators.draw_levels(rng, n, n_annotators, self.levels)
        return (annotators.mark(self.profile, drawn) & marks[:, :, None, None]).astype(np.int64)


def sample_scenes(rng: np.random.Generator, n: int, size: int, ambiguity: float) -> LesionScenes:
    """Draw N lesions: position, shape, soft edge and contrast."""
    centre = size / 2 + rng.uniform(-0.05, 0.05, size=(2, n)) * size
    radius = rng.uniform(0.15, 0.3, size=n) * size
    distance = shapes.blob_distance(size, centre[0], centre[1], radius, aspect=rng.uniform(0.7, 1.0, size=n),
                                    angle=rng.uniform(0, np.pi, size=n), harmonics=rng.uniform(0, 0.12, size=(n, 2)),
                                    phases=rng.uniform(0, 2 * np.pi, size=(n, 2)))
    profile = shapes.soft_profile(distance, radius, rng.uniform(0.02, 0.04, size=n) * size)
    faint = rng.random(n) < FAINT_FRACTION
    contrast = np.where(faint, rng.uniform(*FAINT_CONTRAST, size=n), rng.uniform(*CLEAR_CONTRAST, size=n))
    return LesionScenes(profile=profile, contrast=contrast.astype(np.float32),
                        presence=marking_probability(contrast, ambiguity), levels=annotators.levels(ambiguity))


def render(scenes: LesionScenes, rng: np.random.Generator) -> np.ndarray:
    """Grey images N×1×H×W: background field, vessels, chest wall, the lesion and pixel noise, normalised."""
    n, size = scenes.profile.shape[0], scenes.profile.shape[-1]
    raw = 0.25 + 0.06 * shapes.smooth_field(rng, n, size, scale=0.08)[:, 0]
    vessels = shapes.line_intensity(size, rng.uniform(0, size, (n, 3)), rng.uniform(0, size, (n, 3)),
                                    rng.uniform(0, np.pi, (n, 3)), rng.uniform(0.02, 0.05, (n, 3)) * size,
                                    rng.uniform(-1.0, 1.0, (n, 3)) / size)
    raw += np.einsum("nm,nmhw->nhw", rng.uniform(0.05, 0.2, (n, 3)).astype(np.float32), vessels)
    raw += 0.5 * _chest_wall(rng, n, size)
    texture = 1.0 + 0.1 * shapes.smooth_field(rng, n, size, scale=0.04)[:, 0]
    raw += 0.8 * scenes.contrast[:, None, None] * scenes.profile * texture
    raw += 0.03 * rng.standard_normal(raw.shape, dtype=np.float32)
    return ((raw - RAW_MEAN) / RAW_SCALE).astype(np.float32)[:, None]


def _chest_wall(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """A bright soft half-plane 40–50 % of the side from the centre, present in 40 % of the crops."""
    y, x = shapes.pixel_grid(size)
    angle = rng.uniform(0, 2 * np.pi, n).astype(np.float32)[:, None, None]
    offset = (rng.uniform(0.4, 0.5, n) * size).astype(np.float32)[:, None, None]
    present = (rng.random(n) < 0.4).astype(np.float32)[:, None, None]
    along = (x - size / 2) * np.cos(angle) + (y - size / 2) * np.sin(angle)
    return present / (1.0 + np.exp(-(along - offset) / np.float32(0.02 * size)))


def generate(options: SyntheticOptions) -> dict[str, np.ndarray]:
    """All arrays of synthetic-lidc: ``<split>/images`` for every split, annotations and oracle for the ID splits.

    A shift missing from ``options.shift_severity`` uses :data:`DEFAULT_SHIFT_SEVERITY`.
    """
    arrays: dict[str, np.ndarray] = {}
    for index, (split, n) in enumerate((("train", options.n_train), ("val", options.n_val),
                                        ("test", options.n_test))):
        scene_rng, render_rng, annotator_rng = split_rngs(options.seed, DATASET_TAG, index)
        scenes = sample_scenes(scene_rng, n, options.image_size, options.ambiguity)
        arrays[f"{split}/images"] = render(scenes, render_rng)
        arrays[f"{split}/annotations"] = scenes.annotate(annotator_rng, NUM_ANNOTATORS).astype(np.uint8)
        arrays[f"{split}/oracle"] = scenes.oracle()
    for shift in SHIFT_NAMES:
        severity = options.shift_severity.get(shift, DEFAULT_SHIFT_SEVERITY[shift])
        arrays[f"ood-{shift}/images"] = apply_shift(arrays["test/images"], shift, seed=OOD_SEED + options.seed,
                                                    severity=severity)
    return arrays


def scenes_of(options: SyntheticOptions, split: str) -> LesionScenes:
    """The scenes behind an ID split (to draw more annotators from the same model, e.g. in tests)."""
    index = ("train", "val", "test").index(split)
    scene_rng, _, _ = split_rngs(options.seed, DATASET_TAG, index)
    n = (options.n_train, options.n_val, options.n_test)[index]
    return sample_scenes(scene_rng, n, options.image_size, options.ambiguity)
