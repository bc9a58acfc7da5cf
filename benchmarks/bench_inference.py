"""Inference predictions/s per combination: batched path vs a naive loop (inference throughput).

A prediction is one AU sample of one EU instance for one image. Three ways to draw the same S·M predictions:

- batched (``instance_group: M``): ``EpistemicMethod.sample_instances`` over all M instances in one call, the images
  tiled M times (ensemble and SWAG: the M weight sets stacked into one network; dropout: M fixed masks), S samples
  per call (SSN and Prob. UNet share the backbone across samples, diffusion batches all chains);
- per-instance (``instance_group: 1``): the same, one instance per call;
- naive: re-run the full network for every AU sample of every instance, ``model.sample(images, 1)`` S·M times.

Untrained networks (timing only). The paths run in turn, ``repeats`` times each after a warm-up, and their medians
are compared, so a shared machine's noise hits all alike.

    python benchmarks/bench_inference.py --size 32 --size 64
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from uqseg.epistemic import SwagState, build_method
from uqseg.epistemic.base import EpistemicMethod
from uqseg.nn import build_model
from uqseg.nn.config import ModelConfig

AUS = ("softmax", "ssn", "prob_unet", "diffusion")
EUS = ("none", "dropout", "swag", "ensemble")


def make_method(au: str, eu: str, cfg: ModelConfig, instances: int) -> EpistemicMethod:
    """An EU method over untrained (randomly perturbed) networks."""
    def model(seed: int, dropout: float = 0.0) -> torch.nn.Module:
        torch.manual_seed(seed)
        return build_model(au, cfg.model_copy(update={"dropout": dropout})).eval()

    if eu == "ensemble":
        return build_method("ensemble", [model(s) for s in range(instances)])
    if eu == "dropout":
        return build_method("dropout", [model(0, 0.2)], instances=instances)
    base = model(0)
    params = {k: p.detach() for k, p in base.named_parameters()}
    state = SwagState.empty(params, max_cols=4)
    for i in range(4):
        g = torch.Generator().manual_seed(i)
        state.update({k: v + 0.01 * torch.randn(v.shape, generator=g) for k, v in params.items()})
    return build_method(eu, [base], swag_state=state, instances=instances)


def batched(method: EpistemicMethod, images: torch.Tensor, s: int) -> None:
    method.sample_instances(images, s, list(range(method.num_instances)), seed=0)


def per_instance(method: EpistemicMethod, images: torch.Tensor, s: int) -> None:
    for m in range(method.num_instances):
        method.sample_instances(images, s, [m], seed=0)


def naive(method: EpistemicMethod, images: torch.Tensor, s: int) -> None:
    for m in range(method.num_instances):
        with method.instance(m) as model:
            for _ in range(s):
                model.sample(images, 1)


PATHS = {"batched": batched, "per_instance": per_instance, "naive": naive}


def rates(method: EpistemicMethod, images: torch.Tensor, s: int, repeats: int) -> dict[str, float]:
    """Median predictions/s of each path, timed in turn after one warm-up each."""
    predictions = s * method.num_instances * images.shape[0]
    times: dict[str, list[float]] = {name: [] for name in PATHS}
    for fn in PATHS.values():
        fn(method, images, s)
    for _ in range(repeats):
        for name, fn in PATHS.items():
            start = time.perf_counter()
            fn(method, images, s)
            times[name].append(time.perf_counter() - start)
    return {name: predictions / statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, action="append", help="image side (repeatable; default 32)")
    parser.add_argument("--images", type=int, default=4, help="images per batch B")
    parser.add_argument("--samples", type=int, default=10, help="AU samples S (softmax: 1)")
    parser.add_argument("--instances", type=int, default=5, help="EU instances M (No-EU: 1)")
    parser.add_argument("--width", type=int, default=16, help="base width of the UNet")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls of each path (median)")
    parser.add_argument("--au", action="append", choices=AUS)
    parser.add_argument("--eu", action="append", choices=EUS)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"threads={torch.get_num_threads()} B={args.images} S={args.samples} M={args.instances} "
          f"width={args.width} mult=(1,2,4) 1 ResBlock/level, attention at the deepest level")
    print(f"{'size':>4} {'combination':<20} {'batched pred/s':>15} {'per-instance':>13} {'naive':>8} "
          f"{'batched/naive':>14} {'batched/per-instance':>21}")
    for size in args.size or [32]:
        cfg = ModelConfig(in_channels=3, num_classes=2, image_size=size, base_width=args.width,
                          channel_mult=(1, 2, 4), num_res_blocks=1, attention_levels=(-1,), group_norm_groups=8)
        images = torch.randn(args.images, 3, size, size, generator=torch.Generator().manual_seed(0))
        for au in args.au or AUS:
            for eu in args.eu or EUS:
                if (au, eu) == ("softmax", "none"):
                    continue
                s = 1 if au == "softmax" else args.samples
                method = make_method(au, eu, cfg, 1 if eu == "none" else args.instances)
                with torch.no_grad():
                    r = rates(method, images, s, args.repeats)
                print(f"{size:>4} {au + '+' + eu:<20} {r['batched']:>15.1f} {r['per_instance']:>13.1f} "
                      f"{r['naive']:>8.1f} {r['batched'] / r['naive']:>14.2f} "
                      f"{r['batched'] / r['per_instance']:>21.2f}", flush=True)


if __name__ == "__main__":
    main()
