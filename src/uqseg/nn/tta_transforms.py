"""Random invertible augmentations for test-time augmentation (docs/method.md, "TTA as an AU model").

Each row of a batch gets its own draw: a horizontal flip, an affine map (zoom, shear, rotation about the image
centre) and photometric changes (channel shuffle, hue/saturation/value jitter, motion and Gaussian blur, additive
Gaussian noise). Only the geometry moves pixels, so only the geometry is undone on the predictions.

Coordinates: a point is (x, y) in pixels from the image centre, x to the right (columns), y down (rows), so pixel
(row i, column j) sits at (j + 0.5 − W/2, i + 0.5 − H/2). The forward map of a draw sends a point p of the original
image to q = A·F·p in the augmented one, F the flip (x → −x) and A = R(angle)·Shear·zoom. ``augment`` resamples the
image along it (bilinear, zero border: black, as the authors' rotation); ``invert`` brings predictions back in
reverse order: it samples the augmented frame at A·p (bilinear, edge-replicate border), then flips with
``torch.flip``, which is exact.

Photometric changes act on the image rescaled to [0, 1] by its own minimum and maximum (uqseg's images arrive
normalised, the authors augment before normalising), and the result is mapped back to the original range. Every
parameter comes from one CPU ``torch.Generator``; the noise field from a generator on the images' device seeded
from it, so a draw is a deterministic function of the seed on a given device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from uqseg.errors import ConfigError


@dataclass(frozen=True)
class AugmentSet:
    """Probabilities and ranges of one augmentation set (docs/method.md, "TTA as an AU model")."""

    flip_p: float = 0.5
    rotate_deg: float = 22.5
    scale: tuple[float, float] = (0.8, 1.2)
    scale_p: float = 0.5
    shear_deg: float = 0.0
    shear_p: float = 0.0
    noise_variance: tuple[float, float] = (0.0, 0.01)
    noise_per_channel: bool = True
    noise_p: float = 0.5
    channel_shuffle_p: float = 0.0
    hue_deg: float = 0.0
    saturation: float = 0.0
    value: float = 0.0
    hsv_p: float = 0.0
    motion_blur: tuple[int, int] = (0, 0)
    motion_blur_p: float = 0.0
    gaussian_blur: tuple[int, int] = (0, 0)
    gaussian_blur_p: float = 0.0


WEAK = AugmentSet()
STRONG = AugmentSet(rotate_deg=30.0, scale=(0.7, 1.3), shear_deg=20.0, shear_p=0.5, noise_variance=(0.0, 0.02),
                    channel_shuffle_p=0.2, hue_deg=30.0, saturation=0.3, value=0.3, hsv_p=0.5,
                    motion_blur=(3, 11), motion_blur_p=0.5, gaussian_blur=(3, 7), gaussian_blur_p=0.5)
SETS = {"weak": WEAK, "strong": STRONG}


def augment_set(name: str, noise_variance: tuple[float, float] | None = None,
                noise_per_channel: bool = True) -> AugmentSet:
    """The authors' ``weak`` or ``strong`` set, with the noise range replaced when given (docs/method.md, TTA)."""
    if name not in SETS:
        raise ConfigError(f"unknown augmentation set {name!r}; options: {', '.join(SETS)}")
    base = SETS[name]
    return AugmentSet(**{**base.__dict__, "noise_variance": noise_variance or base.noise_variance,
                         "noise_per_channel": noise_per_channel})


@dataclass(frozen=True)
class Draw:
    """One augmentation per row (N rows, CPU tensors): ``flip`` (N bool), ``matrix`` (N×2×2, the forward map A in
    pixel units), ``perm`` (N×C channel order), ``hsv`` (N×3 hue shift in turns, saturation and value shifts),
    ``motion`` and ``gauss`` (N×k×k blur kernels, a centred delta where not applied), ``noise_std`` (N, 0 where not
    applied), ``noise_per_channel`` (one field per channel, or one shared by all) and ``noise_seed`` (seeds the noise
    field's generator)."""

    flip: Tensor
    matrix: Tensor
    perm: Tensor
    hsv: Tensor
    motion: Tensor
    gauss: Tensor
    noise_std: Tensor
    noise_per_channel: bool
    noise_seed: int

    def __len__(self) -> int:
        return int(self.flip.shape[0])


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> Tensor:
    return low + (high - low) * torch.rand(n, generator=generator, dtype=torch.float64)


def _chance(n: int, p: float, generator: torch.Generator) -> Tensor:
    return torch.rand(n, generator=generator) < p


def _odd_sizes(n: int, limits: tuple[int, int], generator: torch.Generator) -> Tensor:
    """Odd kernel sizes uniform over the odd numbers in ``limits`` (3–11 gives 3, 5, 7, 9, 11)."""
    low, high = limits[0] // 2, (limits[1] - 1) // 2
    return 2 * torch.randint(low, high + 1, (n,), generator=generator) + 1


def _delta(n: int, size: int) -> Tensor:
    kernel = torch.zeros(n, size, size)
    kernel[:, size // 2, size // 2] = 1.0
    return kernel


def motion_kernels(sizes: Tensor, angles: Tensor, size: int) -> Tensor:
    """N×size×size line kernels through the centre, of length ``sizes`` pixels at ``angles`` (radians), normalised."""
    n = sizes.shape[0]
    t = torch.linspace(-0.5, 0.5, 4 * size, dtype=torch.float64)[None] * (sizes[:, None] - 1).double()
    xs = (t * angles.cos()[:, None]).round().long() + size // 2
    ys = (t * angles.sin()[:, None]).round().long() + size // 2
    kernel = torch.zeros(n, size * size, dtype=torch.float64)
    kernel.scatter_(1, ys * size + xs, 1.0)
    kernel = kernel.reshape(n, size, size)
    return (kernel / kernel.sum((1, 2), keepdim=True)).float()


def gaussian_kernels(sizes: Tensor, size: int) -> Tensor:
    """N×size×size Gaussian kernels of odd sizes ``sizes``, σ = 0.3·((k − 1)/2 − 1) + 0.8 as OpenCV, normalised."""
    sigma = 0.3 * ((sizes.double() - 1) * 0.5 - 1) + 0.8
    r = torch.arange(size, dtype=torch.float64) - size // 2
    inside = (r.abs()[None] <= (sizes[:, None] // 2)).double()
    g = torch.exp(-(r[None] ** 2) / (2 * sigma[:, None] ** 2)) * inside
    kernel = g[:, :, None] * g[:, None, :]
    return (kernel / kernel.sum((1, 2), keepdim=True)).float()


def draw_augmentations(aug: AugmentSet, n: int, channels: int, generator: torch.Generator) -> Draw:
    """One independent draw of ``aug`` for each of ``n`` rows, from the CPU ``generator`` (docs/method.md, TTA)."""
    flip = _chance(n, aug.flip_p, generator)
    angle = torch.deg2rad(_uniform(n, -aug.rotate_deg, aug.rotate_deg, generator))
    zoom = torch.where(_chance(n, aug.scale_p, generator), _uniform(n, *aug.scale, generator), 1.0)
    shear = torch.deg2rad(_uniform(n, -aug.shear_deg, aug.shear_deg, generator))
    shear = torch.where(_chance(n, aug.shear_p, generator), shear, 0.0)
    cos, sin = angle.cos(), angle.sin()
    rotation = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)
    shearing = torch.eye(2, dtype=torch.float64).repeat(n, 1, 1)
    shearing[:, 0, 1] = shear.tan()
    matrix = rotation @ shearing * zoom[:, None, None]

    shuffled = torch.argsort(torch.rand(n, channels, generator=generator), dim=1)
    perm = torch.where(_chance(n, aug.channel_shuffle_p, generator)[:, None], shuffled, torch.arange(channels))
    hsv = torch.stack([_uniform(n, -aug.hue_deg / 360, aug.hue_deg / 360, generator),
                       _uniform(n, -aug.saturation, aug.saturation, generator),
                       _uniform(n, -aug.value, aug.value, generator)], 1).float()
    hsv = hsv * _chance(n, aug.hsv_p, generator)[:, None]

    motion_size = max(aug.motion_blur[1] | 1, 1)
    motion = _delta(n, motion_size)
    use = _chance(n, aug.motion_blur_p, generator)
    if aug.motion_blur_p > 0:
        lines = motion_kernels(_odd_sizes(n, aug.motion_blur, generator),
                               _uniform(n, 0.0, math.pi, generator), motion_size)
        motion = torch.where(use[:, None, None], lines, motion)
    gauss_size = max(aug.gaussian_blur[1] | 1, 1)
    gauss = _delta(n, gauss_size)
    use = _chance(n, aug.gaussian_blur_p, generator)
    if aug.gaussian_blur_p > 0:
        blurs = gaussian_kernels(_odd_sizes(n, aug.gaussian_blur, generator), gauss_size)
        gauss = torch.where(use[:, None, None], blurs, gauss)

    noise_std = _uniform(n, *aug.noise_variance, generator).sqrt().float()
    noise_std = noise_std * _chance(n, aug.noise_p, generator)
    noise_seed = int(torch.randint(2**62, (1,), generator=generator))
    return Draw(flip=flip, matrix=matrix, perm=perm, hsv=hsv, motion=motion, gauss=gauss, noise_std=noise_std,
                noise_per_channel=aug.noise_per_channel, noise_seed=noise_seed)



def _flip_points(points: Tensor, flip: Tensor) -> Tensor:
    sign = torch.ones(flip.shape[0], 1, 2, dtype=points.dtype)
    sign[flip, 0, 0] = -1.0
    return points * sign


def to_augmented(draw: Draw, points: Tensor) -> Tensor:
    """The forward map q = A·F·p of each row's draw on points N×P×2 (x, y in pixels from the centre)."""
    return _flip_points(points.double(), draw.flip) @ draw.matrix.transpose(1, 2)


def to_original(draw: Draw, points: Tensor) -> Tensor:
    """The inverse map p = F·A⁻¹·q (F is its own inverse) on points N×P×2 of the augmented frame."""
    return _flip_points(points.double() @ torch.linalg.inv(draw.matrix).transpose(1, 2), draw.flip)


def _theta(matrix: Tensor, height: int, width: int, like: Tensor) -> Tensor:
    """``affine_grid``'s N×2×3 theta for sampling at ``matrix``·(output point), both in pixel units from the
    centre: in normalised coordinates (align_corners=False) u = 2x/W, v = 2y/H."""
    scale = torch.tensor([2.0 / width, 2.0 / height], dtype=torch.float64)
    normalised = matrix * scale[None, :, None] / scale[None, None, :]
    theta = torch.cat([normalised, torch.zeros(matrix.shape[0], 2, 1, dtype=torch.float64)], 2)
    return theta.to(device=like.device, dtype=like.dtype if like.is_floating_point() else torch.float32)


def _warp(x: Tensor, matrix: Tensor, mode: str, padding: str) -> Tensor:
    """Resample N×C×H×W ``x`` at ``matrix``·(output point) for every output pixel; rows whose matrix is the
    identity are copied exactly."""
    n, _, h, w = x.shape
    identity = (matrix == torch.eye(2, dtype=matrix.dtype)).all(2).all(1)
    if bool(identity.all()):
        return x
    grid = F.affine_grid(_theta(matrix, h, w, x), [n, 1, h, w], align_corners=False)
    warped = F.grid_sample(x, grid, mode=mode, padding_mode=padding, align_corners=False)
    return torch.where(identity.to(x.device)[:, None, None, None], x, warped)


def _flip_rows(x: Tensor, flip: Tensor) -> Tensor:
    rows = flip.to(x.device)
    return torch.where(rows.view(-1, *([1] * (x.dim() - 1))), x.flip(-1), x)


def warp_forward(x: Tensor, draw: Draw, mode: str = "bilinear") -> Tensor:
    """Flip, then resample along A (zero border): the geometry of ``augment`` alone, for images or (with
    ``mode="nearest"``) label maps N×C×H×W."""
    return _warp(_flip_rows(x, draw.flip), torch.linalg.inv(draw.matrix), mode, "zeros")


def invert(probs: Tensor, draw: Draw) -> Tensor:
    """Class probabilities N×C×H×W predicted in the augmented frames, back in the original frame: undo A (bilinear,
    edge-replicate border), undo the flip (exact), renormalise over classes (docs/method.md, TTA)."""
    back = _flip_rows(_warp(probs, draw.matrix, "bilinear", "border"), draw.flip)
    return back / back.sum(1, keepdim=True).clamp_min(torch.finfo(back.dtype).tiny)


def rgb_to_hsv(rgb: Tensor) -> Tensor:
    """N×3×H×W RGB in [0, 1] to HSV in [0, 1] (hue in turns)."""
    r, g, b = rgb.unbind(1)
    high, argmax = rgb.max(1)
    chroma = high - rgb.min(1).values
    safe = torch.where(chroma > 0, chroma, torch.ones_like(chroma))
    hue = torch.stack([((g - b) / safe) % 6, (b - r) / safe + 2, (r - g) / safe + 4], 1)
    hue = hue.gather(1, argmax[:, None]).squeeze(1) / 6
    hue = torch.where(chroma > 0, hue, torch.zeros_like(hue))
    saturation = torch.where(high > 0, chroma / torch.where(high > 0, high, torch.ones_like(high)), 0.0 * high)
    return torch.stack([hue, saturation, high], 1)


def hsv_to_rgb(hsv: Tensor) -> Tensor:
    """N×3×H×W HSV in [0, 1] (hue in turns) to RGB in [0, 1]."""
    h, s, v = hsv.unbind(1)
    k = (torch.tensor([5.0, 3.0, 1.0], device=hsv.device, dtype=hsv.dtype)[None, :, None, None]
         + 6 * h[:, None]) % 6
    return v[:, None] - v[:, None] * s[:, None] * (torch.minimum(k, 4 - k).clamp(0, 1))


def _jitter_hsv(x: Tensor, shifts: Tensor) -> Tensor:
    hsv = rgb_to_hsv(x.clamp(0, 1))
    s = shifts.to(device=x.device, dtype=x.dtype)[:, :, None, None]
    hsv = torch.stack([(hsv[:, 0] + s[:, 0]) % 1, (hsv[:, 1] + s[:, 1]).clamp(0, 1),
                       (hsv[:, 2] + s[:, 2]).clamp(0, 1)], 1)
    return hsv_to_rgb(hsv)


def _blur(x: Tensor, kernels: Tensor) -> Tensor:
    """Each row convolved with its own k×k kernel (edge-replicate border)."""
    n, c, h, w = x.shape
    k = kernels.shape[-1]
    weight = kernels.to(device=x.device, dtype=x.dtype).repeat_interleave(c, 0)[:, None]
    padded = F.pad(x.reshape(1, n * c, h, w), [k // 2] * 4, mode="replicate")
    return F.conv2d(padded, weight, groups=n * c).reshape(n, c, h, w)


def _identity_kernel(kernels: Tensor) -> Tensor:
    k = kernels.shape[-1]
    return (kernels[:, k // 2, k // 2] == 1.0) & (kernels.sum((1, 2)) == 1.0)


def augment(images: Tensor, draw: Draw) -> Tensor:
    """Row i of N×C×H×W ``images`` augmented by draw i (docs/method.md, TTA): on the image rescaled to [0, 1] by its
    own range, flip and affine warp (zero border), channel shuffle, HSV jitter (3 channels only), motion and Gaussian
    blur, additive Gaussian noise; then back to the image's range."""
    if images.shape[0] != len(draw):
        raise ValueError(f"{images.shape[0]} images but {len(draw)} augmentation draws")
    n, c = images.shape[:2]
    low = images.amin((1, 2, 3), keepdim=True)
    span = (images.amax((1, 2, 3), keepdim=True) - low).clamp_min(torch.finfo(images.dtype).eps)
    x = warp_forward((images - low) / span, draw)
    if c > 1:
        x = x.gather(1, draw.perm.to(x.device)[:, :, None, None].expand_as(x))
    if c == 3 and bool(draw.hsv.any()):
        rows = draw.hsv.any(1).to(x.device)
        x = torch.where(rows[:, None, None, None], _jitter_hsv(x, draw.hsv), x)
    for kernels in (draw.motion, draw.gauss):
        if not bool(_identity_kernel(kernels).all()):
            x = _blur(x, kernels)
    if bool((draw.noise_std > 0).any()):
        generator = torch.Generator(device=x.device).manual_seed(draw.noise_seed)
        shape = (n, c if draw.noise_per_channel else 1, *x.shape[2:])
        noise = torch.randn(shape, generator=generator, device=x.device, dtype=x.dtype)
        x = x + draw.noise_std.to(device=x.device, dtype=x.dtype)[:, None, None, None] * noise
    return low + span * x
