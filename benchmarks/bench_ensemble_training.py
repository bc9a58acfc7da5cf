"""Ensemble training: M members trained together in one process (torch.func vmap over stacked weights) vs one
after another (batched EU instances). Prints training images/s (all members together) and the ratio.

Sequential = what ``uqseg train`` does: each member is its own run; one step = ``model.loss(batch)``, backward,
gradient-norm clip 0.5, AdamW, EMA. Joint = the members' parameters stacked with ``torch.func.stack_module_state``;
one step evaluates every member's loss on its own batch under ``vmap(randomness="different")``, backpropagates the
sum (members are independent, so each member's gradient is its own), clips each member's gradient norm to 0.5
separately, and applies one AdamW and one EMA update to the stacked tensors (both are elementwise, so this equals
per-member updates). Members see different batches of the same size in both paths.

    python benchmarks/bench_ensemble_training.py --size 32 --width 16
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap

from uqseg.nn import build_model
from uqseg.nn.base import AleatoricModel
from uqseg.nn.config import ModelConfig
from uqseg.training.config import TrainConfig

AUS = ("softmax", "ssn", "prob_unet", "diffusion")
TRAIN = TrainConfig(epochs=1)


class _Loss(nn.Module):
    """``forward`` is the AU model's training loss, so ``functional_call`` can evaluate it."""

    def __init__(self, model: AleatoricModel):
        super().__init__()
        self.model = model

    def forward(self, image: Tensor, annotations: Tensor) -> Tensor:
        return self.model.loss({"image": image, "annotations": annotations})


def members(au: str, cfg: ModelConfig, m: int, device: str) -> list[AleatoricModel]:
    out = []
    for seed in range(m):
        torch.manual_seed(seed)
        model = build_model(au, cfg).to(device).train()
        model.set_epoch(1_000)
        out.append(model)
    return out


def batches(m: int, b: int, cfg: ModelConfig, device: str) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(0)
    size = cfg.image_size
    images = torch.randn(m, b, cfg.in_channels, size, size, generator=g)
    annotations = torch.randint(0, cfg.num_classes, (m, b, 4, size, size), generator=g)
    return images.to(device), annotations.to(device)


def sequential_step(models: list[AleatoricModel], images: Tensor, annotations: Tensor) -> Callable[[], None]:
    opts = [torch.optim.AdamW(mm.parameters(), lr=TRAIN.lr, weight_decay=TRAIN.weight_decay) for mm in models]
    emas = [[p.detach().clone() for p in mm.parameters()] for mm in models]

    def step() -> None:
        for i, (model, opt) in enumerate(zip(models, opts, strict=True)):
            opt.zero_grad(set_to_none=True)
            model.loss({"image": images[i], "annotations": annotations[i]}).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), TRAIN.grad_clip)
            opt.step()
            with torch.no_grad():
                torch._foreach_lerp_(emas[i], [p.detach() for p in model.parameters()], 1 - TRAIN.ema_decay)

    return step


def joint_step(models: list[AleatoricModel], images: Tensor, annotations: Tensor) -> Callable[[], None]:
    params, buffers = stack_module_state(models)
    wrapper = _Loss(models[0])
    # validate the stacked batch once, outside vmap (the check's min/max is data-dependent control flow)
    models[0].check_batch({"image": images.flatten(0, 1), "annotations": annotations.flatten(0, 1)})
    models[0].check_batch = lambda batch: (batch["image"], batch["annotations"])  # type: ignore[method-assign]
    names = list(params)
    leaves = [params[k] for k in names]
    opt = torch.optim.AdamW(leaves, lr=TRAIN.lr, weight_decay=TRAIN.weight_decay)
    emas = [p.detach().clone() for p in leaves]

    def one(p: dict[str, Tensor], b: dict[str, Tensor], image: Tensor, ann: Tensor) -> Tensor:
        full = {f"model.{k}": v for k, v in {**p, **b}.items()}
        return functional_call(wrapper, full, (image, ann))

    losses = vmap(one, randomness="different")

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        losses(dict(zip(names, leaves, strict=True)), buffers, images, annotations).sum().backward()
        with torch.no_grad():
            grads = [p.grad for p in leaves]
            norms = torch.stack([g.flatten(1).pow(2).sum(1) for g in grads]).sum(0).sqrt()
            scale = (TRAIN.grad_clip / (norms + 1e-6)).clamp(max=1.0)
            for g in grads:
                g.mul_(scale.view(-1, *[1] * (g.dim() - 1)))
        opt.step()
        with torch.no_grad():
            torch._foreach_lerp_(emas, [p.detach() for p in leaves], 1 - TRAIN.ema_decay)

    return step


def rate(step: Callable[[], None], images: int, steps: int, repeats: int, device: str) -> float:
    """Best-of-``repeats`` images/s after one warm-up step."""
    step()
    best = float("inf")
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return images * steps / best


def compare(au: str, cfg: ModelConfig, m: int, batch: int, steps: int, repeats: int, device: str) -> tuple:
    """(sequential img/s, joint img/s or None when the loss cannot run under vmap, the error)."""
    images, annotations = batches(m, batch, cfg, device)
    seq = rate(sequential_step(members(au, cfg, m, device), images, annotations), m * batch, steps, repeats, device)
    try:
        joint = rate(joint_step(members(au, cfg, m, device), images, annotations), m * batch, steps, repeats, device)
    except (RuntimeError, NotImplementedError, ValueError) as err:
        return seq, None, str(err).splitlines()[0][:80]
    return seq, joint, ""


def print_table(cfg: ModelConfig, m: int, batch: int, steps: int, repeats: int, device: str,
                aus: tuple[str, ...] = AUS) -> None:
    print(f"device={device} threads={torch.get_num_threads()} M={m} batch/member={batch} size={cfg.image_size} "
          f"width={cfg.base_width} mult={cfg.channel_mult} steps={steps} best of {repeats}")
    print(f"{'AU model':<10} {'sequential img/s':>17} {'joint img/s':>12} {'joint/seq':>9}")
    for au in aus:
        seq, joint, why = compare(au, cfg, m, batch, steps, repeats, device)
        if joint is None:
            print(f"{au:<10} {seq:>17.1f} {'—':>12} {'—':>9}  (vmap: {why})", flush=True)
        else:
            print(f"{au:<10} {seq:>17.1f} {joint:>12.1f} {joint / seq:>9.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--batch", type=int, default=8, help="batch per member")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--au", action="append", choices=AUS)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = ModelConfig(in_channels=1, num_classes=2, image_size=args.size, base_width=args.width,
                      channel_mult=(1, 2, 4), num_res_blocks=1, attention_levels=(-1,), group_norm_groups=8)
    print_table(cfg, args.members, args.batch, args.steps, args.repeats, args.device, tuple(args.au or AUS))


if __name__ == "__main__":
    main()
