"""Vectorised drawing primitives for the synthetic images: soft blobs, smooth random fields, vessel lines.

All functions take per-image parameter arrays of length N and return N×H×W float32 maps; coordinates are in pixels
with row = y and column = x (docs/conventions.md).
"""

from __future__ import annotations

import numpy as np
import scipy.fft


def pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates ``(y, x)``, each 1×H×W float32."""
    coords = np.arange(size, dtype=np.float32) + 0.5
    y, x = np.meshgrid(coords, coords, indexing="ij")
    return y[None], x[None]


def _column(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)[:, None, None]


def blob_distance(size: int, cy: np.ndarray, cx: np.ndarray, radius: np.ndarray, aspect: np.ndarray,
                  angle: np.ndarray, harmonics: np.ndarray, phases: np.ndarray) -> np.ndarray:
    """Normalised distance ``d`` (1 on the contour) to a rotated ellipse with a wavy radius.

    The contour's radius along direction θ (relative to the major axis) is
    ``radius · ellipse(θ) · (1 + Σ_j harmonics[:, j] · cos((j + 2)·θ + phases[:, j]))``.
    """
    y, x = pixel_grid(size)
    dy, dx = y - _column(cy), x - _column(cx)
    cos, sin = np.cos(_column(angle)), np.sin(_column(angle))
    u, v = dx * cos + dy * sin, -dx * sin + dy * cos
    rho = np.maximum(np.hypot(u, v), np.float32(1e-6))
    cos_t, sin_t = u / rho, v / rho
    semi_minor = _column(aspect)
    ellipse = semi_minor / np.sqrt((semi_minor * cos_t) ** 2 + sin_t**2)
    wave = np.ones_like(rho)
    cos_j, sin_j = cos_t, sin_t
    for j in range(harmonics.shape[1]):
        cos_j, sin_j = cos_j * cos_t - sin_j * sin_t, sin_j * cos_t + cos_j * sin_t
        phase = _column(phases[:, j])
        wave += _column(harmonics[:, j]) * (cos_j * np.cos(phase) - sin_j * np.sin(phase))
    return (rho / (_column(radius) * ellipse * wave)).astype(np.float32)


def soft_profile(distance: np.ndarray, radius: np.ndarray, edge_width: np.ndarray) -> np.ndarray:
    """The soft object profile ``sigmoid((1 − d)·radius / edge_width)`` in [0, 1] (edge width in pixels)."""
    z = (1.0 - distance) * _column(radius) / _column(edge_width)
    return (0.5 * (1.0 + np.tanh(0.5 * z))).astype(np.float32)


def smooth_field(rng: np.random.Generator, n: int, size: int, scale: float, channels: int = 1) -> np.ndarray:
    """Unit-std Gaussian random fields, white noise smoothed by a periodic Gaussian of σ = ``scale·size``: N×C×H×W."""
    noise = rng.standard_normal((n, channels, size, size), dtype=np.float32)
    frequency_sq = np.fft.fftfreq(size)[:, None] ** 2 + np.fft.rfftfreq(size)[None, :] ** 2
    gain = np.exp(-2.0 * (np.pi * scale * size) ** 2 * frequency_sq).astype(np.float32)
    field = scipy.fft.irfft2(scipy.fft.rfft2(noise) * gain, s=(size, size))
    std = field.std(axis=(2, 3), keepdims=True)
    return field / np.maximum(std, np.float32(1e-6))


def line_intensity(size: int, cy: np.ndarray, cx: np.ndarray, angle: np.ndarray, width: np.ndarray,
                   curvature: np.ndarray | None = None) -> np.ndarray:
    """Smooth ridges ``max(0, 1 − (d/width)²)²`` along curves through (cy, cx): N×M×H×W (parameters N×M).

    Each curve leaves (cy, cx) along ``angle`` and bends as the parabola ``d = curvature · s²`` (``s`` the distance
    along ``angle``, ``d`` the offset across it, both in pixels); zero curvature gives straight lines.
    """
    y, x = pixel_grid(size)
    y, x = y[:, None], x[:, None]

    def col(values: np.ndarray) -> np.ndarray:
        return np.asarray(values, dtype=np.float32)[:, :, None, None]

    cos, sin = np.cos(col(angle)), np.sin(col(angle))
    dx, dy = x - col(cx), y - col(cy)
    across = dx * sin - dy * cos
    if curvature is not None:
        across = across - col(curvature) * np.square(dx * cos + dy * sin)
    return np.square(np.maximum(np.float32(0), 1 - np.square(across / col(width))))
