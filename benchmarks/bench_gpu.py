"""GPU training throughput at the paper config (GPU path): img/s per AU model in fp32 vs bf16 autocast
vs bf16 + channels_last, 128×128, base width 32, batch 32; then 5 ensemble members trained jointly vs sequentially.

One short prepared script: on a machine without CUDA it says so and exits 0. Each row is one warm-up step, then
``--steps`` timed steps (loss, backward, clip 0.5, AdamW, EMA, as in training), best of ``--repeats``, with CUDA
synchronised around the timed region. Total run time on one modern GPU is a few minutes.

    python benchmarks/bench_gpu.py
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from bench_ensemble_training import print_table
from bench_training import AUS, paper_backbone, random_batch, train_rate

VARIANTS = (("fp32", False, False), ("bf16", True, False), ("bf16+cl", True, True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-ensemble", action="store_true", help="skip the joint-vs-sequential ensemble table")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("bench_gpu: no CUDA device is present; nothing to measure.")
        return 0
    torch.backends.cudnn.benchmark = True
    start = time.perf_counter()
    print(f"device={torch.cuda.get_device_name()} torch={torch.__version__} size={args.size} width={args.width} "
          f"batch={args.batch} steps={args.steps} best of {args.repeats}; paper backbone")
    print(f"{'AU model':<10} " + " ".join(f"{name + ' img/s':>13}" for name, _, _ in VARIANTS) + f" {'bf16/fp32':>9}")
    cfg = paper_backbone(args.size, args.width)
    batch = random_batch(args.batch, args.size, device="cuda")
    for au in AUS:
        rates = [train_rate(au, cfg, batch, args.steps, args.repeats, bf16=bf16, channels_last=cl)
                 for _, bf16, cl in VARIANTS]
        print(f"{au:<10} " + " ".join(f"{r:>13.1f}" for r in rates) + f" {rates[1] / rates[0]:>9.2f}", flush=True)
        torch.cuda.empty_cache()
    if not args.no_ensemble:
        print_table(cfg, 5, args.batch, max(2, args.steps // 2), args.repeats, "cuda")
    print(f"total {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
