"""Cost of n AU samples as a multiple of one plain forward pass, per AU model.

Plain forward = the model's deterministic ``predict`` (softmax, SSN: backbone + mean head; Prob. UNet: backbone,
prior and fcomb at the prior mean) or, for diffusion, one denoiser call on the image batch. Sampling = one
``model.sample(images, n)`` call: SSN draws its n logit samples from one backbone pass, Prob. UNet reuses the UNet
features for all n latents, diffusion runs the n chains of every image as one batch for ``sampling_steps`` DDIM
steps (no per-sample Python loop), so its target ratio is ≈ n × steps. Paper-width nets (base 32, mult 1,2,4,8),
untrained weights (timing only), batch of one image, the minimum of ``--repeats`` runs (the forward after one
warm-up call).

    python benchmarks/bench_sampling.py --size 64 --size 128 --threads 2
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from uqseg.nn import MODELS, build_model
from uqseg.nn.base import AleatoricModel
from uqseg.nn.config import ModelConfig


def best_time(fn: Callable[[], object], repeats: int, warm_up: bool = True) -> float:
    """Minimum wall time of ``repeats`` calls, after one untimed warm-up call if ``warm_up``."""
    if warm_up:
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def plain_forward(model: AleatoricModel, images: torch.Tensor) -> Callable[[], object]:
    """One deterministic forward pass of ``model`` on ``images``."""
    if hasattr(model, "denoise"):
        t = torch.full((images.shape[0],), 0.5)
        x_t = torch.randn(images.shape[0], model.num_classes, *images.shape[2:])
        return lambda: model.denoise(x_t, images, t)
    return lambda: model.predict(images)


def measure(name: str, size: int, n: int, repeats: int) -> tuple[float, float]:
    """(seconds of one plain forward, seconds of n samples) for AU model ``name`` at size×size."""
    torch.manual_seed(0)
    model = build_model(name, ModelConfig(image_size=size)).eval()
    images = torch.randn(1, 3, size, size)
    with torch.inference_mode():
        forward = best_time(plain_forward(model, images), repeats)
        sampling = best_time(lambda: model.sample(images, n), repeats, warm_up=False)  # the forward warmed up
    return forward, sampling


def main() -> None:
    """Print one row per (size, AU model): forward ms, sampling ms and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, action="append", help="Image size (repeatable; default 64 and 128).")
    parser.add_argument("--samples", type=int, default=10, help="AU samples n.")
    parser.add_argument("--repeats", type=int, default=3, help="Timed runs per measurement (minimum reported).")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch intra-op threads.")
    parser.add_argument("--model", action="append", choices=list(MODELS), help="AU models (default: all four).")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"n = {args.samples} samples, batch 1, {args.threads} threads, min of {args.repeats} runs")
    print(f"{'size':>5} {'AU model':<10} {'forward ms':>11} {'sample ms':>10} {'ratio':>7}")
    for size in args.size or [64, 128]:
        for name in args.model or list(MODELS):
            forward, sampling = measure(name, size, args.samples, args.repeats)
            print(f"{size:>5} {name:<10} {forward * 1e3:>11.1f} {sampling * 1e3:>10.1f} {sampling / forward:>6.2f}×",
                  flush=True)


if __name__ == "__main__":
    main()
