"""``synthetic-chaksu``: RGB optic-disc crops, 3 classes, 5 annotators, three acquisition devices.

Scene: an orange-red retina (a smooth random field) seen through a round camera aperture, 4 dark vessels arching
up and down from the disc, a bright yellowish optic disc (a rotated, slightly vertical, wavy ellipse of radius
22–28 % of the side at zoom 1) and a paler cup inside it (cup-to-disc radius ratio 0.35–0.6), both with soft edges.

Annotator model (exact): each annotator independently draws a disc level ``t_d`` and a cup level ``t_c``
(:mod:`uqseg.data.synthetic.annotators`) and labels ``disc = p_d ≥ t_d``, ``cup = p_c ≥ t_c`` and ``disc``
(docs/method.md §8: cup := cup ∩ disc); class 2 = cup, 1 = disc rim, 0 = background. With ``F_d``, ``F_c`` the level
fractions, the oracle is ``P(cup) = F_d·F_c``, ``P(rim) = F_d − F_d·F_c``, ``P(background) = 1 − F_d``.

Devices (class ``Device``) differ in zoom (field of view), aperture, colour balance, gamma, blur and noise. Device
A gives train/val/test; the OOD split ``ood`` holds ``n_test`` images, the first ``n_test − n_test//2`` from device
B, the rest from device C (as in the paper, where Bosch and Forus form the OOD test). The OOD devices sit at
``shift_severity["device"]`` s (default 1) between A and B or C (:func:`device_at`): s = 0 is device A, s = 1 the
devices of the table in docs/datasets.md. Images are standardised per image over channels and pixels, as the real
Chákṣu loader does (docs/method.md §7).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from scipy.ndimage import gaussian_filter

from uqseg.data.contract import DatasetInfo
from uqseg.data.synthetic import annotators, shapes
from uqseg.data.synthetic.options import SyntheticOptions, split_rngs

NAME = "synthetic-chaksu"
NUM_ANNOTATORS = 5
DATASET_TAG = 2
LABELLED_SPLITS = ("train", "val", "test", "ood")
RETINA_RGB = np.array([0.72, 0.33, 0.16], dtype=np.float32)
DISC_RGB = np.array([0.2, 0.32, 0.2], dtype=np.float32)
CUP_RGB = np.array([0.08, 0.25, 0.3], dtype=np.float32)
VESSEL_RGB = np.array([0.3, 0.5, 0.4], dtype=np.float32)
STANDARDISE_EPS = 1e-8


@dataclass(frozen=True)
class Device:
    """An acquisition device: geometry (zoom, aperture) and image formation (colour, gamma, blur, noise)."""

    zoom: float
    aperture_radius: float
    aperture_offset: float
    gain: tuple[float, float, float]
    gamma: float
    blur: float
    noise: float


DEVICES = {
    "A": Device(zoom=1.0, aperture_radius=2.0, aperture_offset=0.5, gain=(1.0, 1.0, 1.0), gamma=1.0, blur=0.0,
                noise=0.015),
    "B": Device(zoom=0.75, aperture_radius=0.6, aperture_offset=0.3, gain=(1.15, 1.0, 0.5), gamma=0.8, blur=0.02,
                noise=0.03),
    "C": Device(zoom=1.25, aperture_radius=0.75, aperture_offset=0.45, gain=(0.6, 1.3, 1.4), gamma=1.2, blur=0.0,
                noise=0.08),
}

DEFAULT_SHIFT_SEVERITY = {"device": 1.0}
LINEAR_FIELDS = ("blur", "noise")


def device_at(name: str, severity: float) -> Device:
    """Device ``name`` moved to ``severity`` s along the way from device A (s = 0) to it (s = 1), or beyond.

    Blur and noise (≥ 0, zero allowed) interpolate linearly, ``a + s·(b − a)``; the positive, multiplicative
    parameters (zoom, aperture radius and offset, colour gains, gamma) geometrically, ``a^(1−s)·b^s``, so they stay
    positive for every s. Both forms give exactly A at s = 0 and exactly the device at s = 1.
    """
    base, target = DEVICES["A"], DEVICES[name]
    s = float(severity)

    def mix(field: str, a: float, b: float) -> float:
        if field in LINEAR_FIELDS:
            return a if s == 0.0 else b if s == 1.0 else a + s * (b - a)
        return a ** (1.0 - s) * b ** s

    values = {}
    for item in fields(Device):
        a, b = getattr(base, item.name), getattr(target, item.name)
        values[item.name] = (tuple(mix(item.name, x, y) for x, y in zip(a, b, strict=True)) if isinstance(a, tuple)
                             else mix(item.name, a, b))
    return Device(**values)


def split_severity(shift_severity: dict[str, float]) -> dict[str, float]:
    """The severity of each OOD split (``ood``)."""
    return {"ood": shift_severity["device"]}


def info(image_size: int) -> DatasetInfo:
    """Static facts of synthetic-chaksu at ``image_size``."""
    return DatasetInfo(name=NAME, num_classes=3, in_channels=3, num_annotators=NUM_ANNOTATORS,
                       image_size=(image_size, image_size), ood_splits=("ood",),
                       class_names=("background", "disc rim", "cup"))


@dataclass(frozen=True)
class DiscScenes:
    """The soft disc and cup profiles (N×H×W) and annotator levels that fix the annotator distribution."""

    disc: np.ndarray
    cup: np.ndarray
    centre: np.ndarray
    disc_radius: np.ndarray
    levels: np.ndarray

    def oracle(self) -> np.ndarray:
        """The exact annotator distribution, N×3×H×W float32 (background, disc rim, cup)."""
        disc = annotators.level_fraction(self.disc, self.levels)
        cup = disc * annotators.level_fraction(self.cup, self.levels)
        return np.stack([1.0 - disc, disc - cup, cup], axis=1).astype(np.float32)

    def annotate(self, rng: np.random.Generator, n_annotators: int) -> np.ndarray:
        """Draw ``n_annotators`` independent annotators per image from the model: int64 N×K×H×W."""
        n = len(self.disc)
        disc = annotators.mark(self.disc, annotators.draw_levels(rng, n, n_annotators, self.levels))
        cup = annotators.mark(self.cup, annotators.draw_levels(rng, n, n_annotators, self.levels)) & disc
        return disc.astype(np.int64) + cup


def sample_scenes(rng: np.random.Generator, n: int, size: int, ambiguity: float, device: Device) -> DiscScenes:
    """Draw N discs with cups for ``device``: centre, radii, shapes and soft edges."""
    centre = size / 2 + rng.uniform(-0.04, 0.04, size=(2, n)) * size
    disc_radius = device.zoom * rng.uniform(0.22, 0.28, size=n) * size
    angle = np.pi / 2 + rng.uniform(-0.3, 0.3, size=n)
    disc_distance = shapes.blob_distance(size, centre[0], centre[1], disc_radius, rng.uniform(0.85, 1.0, n), angle,
                                         rng.uniform(0, 0.04, (n, 2)), rng.uniform(0, 2 * np.pi, (n, 2)))
    cup_centre = centre + rng.uniform(-0.06, 0.06, size=(2, n)) * disc_radius
    cup_radius = rng.uniform(0.35, 0.6, size=n) * disc_radius
    cup_distance = shapes.blob_distance(size, cup_centre[0], cup_centre[1], cup_radius, rng.uniform(0.8, 1.0, n),
                                        angle + rng.uniform(-0.3, 0.3, n), rng.uniform(0, 0.06, (n, 2)),
                                        rng.uniform(0, 2 * np.pi, (n, 2)))
    disc = shapes.soft_profile(disc_distance, disc_radius, device.zoom * rng.uniform(0.015, 0.03, n) * size)
    cup = shapes.soft_profile(cup_distance, cup_radius, device.zoom * rng.uniform(0.02, 0.04, n) * size)
    return DiscScenes(disc=disc, cup=cup, centre=centre.astype(np.float32), disc_radius=disc_radius,
                      levels=annotators.levels(ambiguity))


def render(scenes: DiscScenes, rng: np.random.Generator, device: Device) -> np.ndarray:
    """RGB images N×3×H×W of ``device``: retina, vessels, disc, cup, aperture, colour, blur, noise; standardised."""
    n, size = scenes.disc.shape[0], scenes.disc.shape[-1]
    shading = 1.0 + 0.08 * shapes.smooth_field(rng, n, size, scale=0.1)
    raw = RETINA_RGB[None, :, None, None] * shading
    cy = scenes.centre[0][:, None] + rng.uniform(-0.15, 0.15, (n, 4)) * scenes.disc_radius[:, None]
    cx = scenes.centre[1][:, None] + rng.uniform(-0.15, 0.15, (n, 4)) * scenes.disc_radius[:, None]
    angle = np.pi / 2 + rng.uniform(-0.6, 0.6, (n, 4))
    bend = rng.choice([-1.0, 1.0], (n, 4)) * rng.uniform(1.0, 3.0, (n, 4)) / (device.zoom * size)
    vessels = shapes.line_intensity(size, cy, cx, angle, device.zoom * rng.uniform(0.02, 0.035, (n, 4)) * size,
                                    bend).max(axis=1)
    raw = raw * (1.0 - VESSEL_RGB[None, :, None, None] * vessels[:, None])
    raw += DISC_RGB[None, :, None, None] * scenes.disc[:, None] * (1.0 - 0.5 * vessels[:, None])
    raw += CUP_RGB[None, :, None, None] * scenes.cup[:, None]
    raw *= _aperture(rng, scenes, size, device)[:, None]
    raw = np.clip(raw * np.asarray(device.gain, dtype=np.float32)[None, :, None, None], 0.0, 1.0) ** device.gamma
    if device.blur > 0:
        raw = gaussian_filter(raw, sigma=(0, 0, device.blur * size, device.blur * size), mode="nearest")
    raw = raw + device.noise * rng.standard_normal(raw.shape, dtype=np.float32)
    return standardise(raw)


def _aperture(rng: np.random.Generator, scenes: DiscScenes, size: int, device: Device) -> np.ndarray:
    """The camera's round field of view (with vignetting) around a centre offset from the disc: N×H×W."""
    n = len(scenes.disc)
    y, x = shapes.pixel_grid(size)
    direction = rng.uniform(0, 2 * np.pi, n)
    ay = scenes.centre[0] + device.aperture_offset * size * np.sin(direction)
    ax = scenes.centre[1] + device.aperture_offset * size * np.cos(direction)
    radius = np.float32(device.aperture_radius * size)
    r = np.hypot(y - ay[:, None, None].astype(np.float32), x - ax[:, None, None].astype(np.float32))
    edge = 0.5 * (1.0 + np.tanh((radius - r) / np.float32(0.01 * size)))
    return (edge * (1.0 - 0.35 * np.square(np.minimum(r / radius, 1.0)))).astype(np.float32)


def standardise(images: np.ndarray) -> np.ndarray:
    """Per-image ``(x − mean)/(std + 1e-8)`` over channels and pixels (docs/method.md §7, Chákṣu)."""
    mean = images.mean(axis=(1, 2, 3), keepdims=True)
    std = images.std(axis=(1, 2, 3), keepdims=True)
    return ((images - mean) / (std + STANDARDISE_EPS)).astype(np.float32)


def _split_parts(options: SyntheticOptions) -> dict[str, list[tuple[int, str, int]]]:
    """Each split's parts as (split index, device, count): ID splits from A, ``ood`` from B then C."""
    n_b = options.n_test - options.n_test // 2
    return {"train": [(0, "A", options.n_train)], "val": [(1, "A", options.n_val)], "test": [(2, "A", options.n_test)],
            "ood": [(3, "B", n_b), (4, "C", options.n_test // 2)]}


def _device(options: SyntheticOptions, name: str) -> Device:
    """Device A as is; an OOD device at the ``device`` severity of ``options``."""
    if name == "A":
        return DEVICES["A"]
    return device_at(name, options.shift_severity.get("device", DEFAULT_SHIFT_SEVERITY["device"]))


def generate(options: SyntheticOptions) -> dict[str, np.ndarray]:
    """All arrays of synthetic-chaksu: images, annotations (uint8) and oracle of every split."""
    arrays: dict[str, np.ndarray] = {}
    for split, parts in _split_parts(options).items():
        pieces = []
        for index, device_name, n in parts:
            scene_rng, render_rng, annotator_rng = split_rngs(options.seed, DATASET_TAG, index)
            device = _device(options, device_name)
            scenes = sample_scenes(scene_rng, n, options.image_size, options.ambiguity, device)
            pieces.append((render(scenes, render_rng, device), scenes.annotate(annotator_rng, NUM_ANNOTATORS),
                           scenes.oracle()))
        arrays[f"{split}/images"] = np.concatenate([p[0] for p in pieces])
        arrays[f"{split}/annotations"] = np.concatenate([p[1] for p in pieces]).astype(np.uint8)
        arrays[f"{split}/oracle"] = np.concatenate([p[2] for p in pieces])
    return arrays


def scenes_of(options: SyntheticOptions, split: str, device_name: str = "A") -> DiscScenes:
    """The scenes behind one device's part of a split (to draw more annotators from the same model)."""
    for index, name, n in _split_parts(options)[split]:
        if name == device_name:
            scene_rng, _, _ = split_rngs(options.seed, DATASET_TAG, index)
            return sample_scenes(scene_rng, n, options.image_size, options.ambiguity, _device(options, name))
    raise KeyError(f"split {split!r} has no images of device {device_name!r}")
