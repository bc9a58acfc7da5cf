"""Training images/s per AU model (docs/method.md §7), and the wall time of one tiny combination end to end.

Throughput: one training step is exactly what ``uqseg.training.module.TrainingModule`` does per batch, written out
without Lightning — ``model.loss(batch)``, backward, gradient-norm clip 0.5, AdamW (lr 1e-4, wd 0), EMA 0.999
update — over random images with K = 4 random annotations per image. The network is the paper's backbone
(channel_mult (1,2,4,8), 2 ResBlocks per level, attention at the two deepest levels) at the given size and base
width. One warm-up step, then ``--steps`` steps timed, best of ``--repeats``.

Variants (``--variants``): the same step on the quick preset's net (width 8, channel_mult 1,2,4, one ResBlock per
level, attention at the deepest level, 32×32, batch 16) for each AU model, comparing per-tensor AdamW in NCHW (how
training ran before), fused AdamW, and fused AdamW with channels_last, each also at batch 32. Variants run
interleaved, and the table shows the median CPU time per image over ``--repeats`` (CPU time, because the machine is
shared: it does not count time spent waiting for a core).

Combination (``--combo AU+EU``): train, predict every split and evaluate one combination on ``synthetic-lidc`` with
the quick preset (``uqseg.experiments.run_combination``, what ``uqseg train`` and ``uqseg evaluate`` run), timing
data + training and prediction + metrics.

    python benchmarks/bench_training.py --size 64 --width 16 --width 32
    python benchmarks/bench_training.py --combo ssn+swag --no-throughput
    python benchmarks/bench_training.py --variants --no-throughput --threads 1 --steps 5 --repeats 7
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable

import pandas as pd
import torch

from uqseg.nn import build_model
from uqseg.nn.config import ModelConfig
from uqseg.training.config import TrainConfig
from uqseg.training.ema import EmaWeights

AUS = ("softmax", "ssn", "prob_unet", "diffusion")


def paper_backbone(size: int, width: int, in_channels: int = 1) -> ModelConfig:
    """The paper's backbone (docs/method.md §4) at ``size``×``size`` with base width ``width``."""
    return ModelConfig(in_channels=in_channels, num_classes=2, image_size=size, base_width=width)


def quick_backbone() -> ModelConfig:
    """The quick preset's net (src/uqseg/presets/quick.yaml) on 32×32 one-channel images."""
    return ModelConfig(in_channels=1, num_classes=2, image_size=32, base_width=8, channel_mult=(1, 2, 4),
                       num_res_blocks=1, attention_levels=(-1,), num_heads=2, group_norm_groups=8,
                       ssn={"rank": 4, "mc_samples": 4, "mean_only_epochs": 2},
                       prob_unet={"latent_dim": 4, "beta_warmup_epochs": 2}, diffusion={"sampling_steps": 4})


def random_batch(batch: int, size: int, in_channels: int = 1, annotators: int = 4,
                 device: str = "cpu") -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "image": torch.randn(batch, in_channels, size, size, generator=g).to(device),
        "annotations": torch.randint(0, 2, (batch, annotators, size, size), generator=g).to(device),
    }


def train_step(au: str, cfg: ModelConfig, batch: dict[str, torch.Tensor], *, bf16: bool = False,
               channels_last: bool = False, fused: bool = False, ema_decay: float = 0.999) -> Callable[[], None]:
    """One training step of a fresh AU model ``au`` (loss, backward, clip, AdamW, EMA) as a callable.

    On the batch's device; ``bf16`` runs the loss under bf16 autocast, ``channels_last`` converts the model and
    images and ``fused`` uses fused AdamW, as ``TrainingModule`` does.
    """
    device = batch["image"].device
    train = TrainConfig(epochs=1, ema_decay=ema_decay)
    torch.manual_seed(0)
    model = build_model(au, cfg).to(device).train()
    model.set_epoch(1_000)  # past every warm-up (SSN mean-only, Prob. UNet β): the steady-state objective
    if channels_last:
        model.to(memory_format=torch.channels_last)
        batch = {**batch, "image": batch["image"].contiguous(memory_format=torch.channels_last)}
    opt = torch.optim.AdamW(model.parameters(), lr=train.lr, weight_decay=train.weight_decay, fused=fused or None)
    ema = EmaWeights(model, train.ema_decay)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with autocast:
            loss = model.loss(batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), train.grad_clip)
        opt.step()
        ema.update(model)

    return step


def train_rate(au: str, cfg: ModelConfig, batch: dict[str, torch.Tensor], steps: int, repeats: int, *,
               bf16: bool = False, channels_last: bool = False) -> float:
    """Best-of-``repeats`` training images/s of AU model ``au`` (one warm-up step, then ``steps`` timed)."""
    device = batch["image"].device
    step = train_step(au, cfg, batch, bf16=bf16, channels_last=channels_last)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    step()
    best = float("inf")
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        best = min(best, time.perf_counter() - start)
    return steps * batch["image"].shape[0] / best


def throughput(args: argparse.Namespace) -> None:
    print(f"threads={torch.get_num_threads()} size={args.size} batch={args.batch} steps={args.steps} "
          f"best of {args.repeats}; paper backbone (mult 1,2,4,8; 2 ResBlocks/level; attention at 2 deepest)")
    print(f"{'width':>5} {'AU model':<10} {'params':>10} {'img/s':>8}")
    batch = random_batch(args.batch, args.size)
    for width in args.width or [16, 32]:
        cfg = paper_backbone(args.size, width)
        for au in args.au or AUS:
            params = build_model(au, cfg).num_parameters()
            rate = train_rate(au, cfg, batch, args.steps, args.repeats)
            print(f"{width:>5} {au:<10} {params:>10,} {rate:>8.1f}", flush=True)


VARIANTS = {"per-tensor AdamW, NCHW": {}, "fused AdamW": {"fused": True},
            "fused + channels_last": {"fused": True, "channels_last": True}}


def variants(args: argparse.Namespace) -> None:
    """CPU ms per training image of each variant (see the module docstring), interleaved, median of repeats."""
    cfg = quick_backbone()
    print(f"threads={torch.get_num_threads()}; quick preset net at 32×32; {args.steps} steps per timing, median of "
          f"{args.repeats}; CPU ms per image (ratio to the first column)")
    names = [f"{name}, batch {b}" for b in (16, 32) for name in VARIANTS]
    print("| AU model | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for au in args.au or AUS:
        steps = {f"{name}, batch {b}": (train_step(au, cfg, random_batch(b, 32), ema_decay=0.95, **kw), b)
                 for b in (16, 32) for name, kw in VARIANTS.items()}
        for step, _ in steps.values():
            step()
        times: dict[str, list[float]] = {name: [] for name in steps}
        for _ in range(args.repeats):
            for name, (step, b) in steps.items():
                start = time.process_time()
                for _ in range(args.steps):
                    step()
                times[name].append((time.process_time() - start) * 1000 / (args.steps * b))
        med = {name: statistics.median(v) for name, v in times.items()}
        first = med[names[0]]
        print(f"| {au} | " + " | ".join(f"{med[n]:.2f} ({first / med[n]:.2f}×)" for n in names) + " |", flush=True)


def combination(combo: str, epochs: int) -> None:
    """Time one combination end to end on synthetic-lidc at 32×32 with the quick preset, as ``uqseg evaluate`` runs
    it: data + training (``stage="train"``), then prediction + metrics (``stage="evaluate"``, which resumes)."""
    from uqseg.experiments import run_combination

    with tempfile.TemporaryDirectory() as tmp:
        times: dict[str, float] = {}
        start = time.perf_counter()
        run_combination("synthetic-lidc", combo, tmp, preset="quick", epochs=epochs, stage="train")
        times["data + train"] = time.perf_counter() - start
        start = time.perf_counter()
        done = run_combination("synthetic-lidc", combo, tmp, preset="quick", epochs=epochs, stage="evaluate")
        times["predict + evaluate"] = time.perf_counter() - start
        rows = len(pd.read_parquet(done.metrics))
    total = sum(times.values())
    print(f"{combo}: quick preset on synthetic-lidc, {epochs} epochs, {rows} result rows")
    for stage, seconds in [*times.items(), ("total", total)]:
        print(f"{stage:>18} {seconds:8.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--width", type=int, action="append", help="base width (repeatable; default 16 and 32)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--au", action="append", choices=AUS)
    parser.add_argument("--combo", action="append", default=[], help="AU+EU to time end to end (repeatable)")
    parser.add_argument("--epochs", type=int, default=6, help="epochs of the --combo run")
    parser.add_argument("--no-throughput", action="store_true", help="skip the images/s table")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--variants", action="store_true", help="AdamW / channels_last / batch variants table")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.no_throughput:
        throughput(args)
    if args.variants:
        variants(args)
    for combo in args.combo:
        combination(combo, args.epochs)


if __name__ == "__main__":
    main()
