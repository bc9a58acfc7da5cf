"""Streaming vs naive TU/AU/EU: images/s at S·M=100 and peak memory as S·M grows (128×128, C=2, NumPy)."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np

from uqseg.uncertainty import UncertaintyAccumulator, decompose

B, C, H, W = 4, 2, 128, 128


def _sample(rng: np.random.Generator) -> np.ndarray:
    """One AU sample batch (1×B×C×H×W) of two-class probabilities."""
    p = rng.random((1, B, 1, H, W))
    return np.concatenate([p, 1 - p], axis=2)


def streaming(n: int, seed: int = 0) -> None:
    """Feed n instances one at a time into the accumulator."""
    rng = np.random.default_rng(seed)
    acc = UncertaintyAccumulator()
    for _ in range(n):
        acc.update(_sample(rng))
    acc.result()


def naive(n: int, seed: int = 0) -> None:
    """Stack all n instances, then decompose in one shot."""
    rng = np.random.default_rng(seed)
    decompose(np.concatenate([_sample(rng) for _ in range(n)])[:, None], nested=True)


def main() -> None:
    """Print throughput and the peak-memory table."""
    for fn in (streaming, naive):
        t0 = time.perf_counter()
        fn(100)
        print(f"{fn.__name__:9s} S*M=100: {B / (time.perf_counter() - t0):.2f} images/s")
    print("S*M  streaming_peak_MiB  naive_peak_MiB")
    for n in (10, 100, 1000):
        peaks = []
        for fn in (streaming, naive):
            tracemalloc.start()
            fn(n)
            peaks.append(tracemalloc.get_traced_memory()[1] / 2**20)
            tracemalloc.stop()
        print(f"{n:5d} {peaks[0]:18.1f} {peaks[1]:15.1f}")


if __name__ == "__main__":
    main()
