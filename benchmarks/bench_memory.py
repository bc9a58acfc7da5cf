"""Peak memory of streamed inference + evaluation as the test split grows 10× (target: flat, ≤ 1.2×).

Each test-split size runs in a fresh child process (val and the OOD split keep 64 images): it builds the
dataset (the split arrays are the input, so they exist before measuring) and the EU method (SSN + ensemble of 3
untrained width-8 nets, S = 4, 32×32 by default), then predicts val, test and the OOD split to HDF5 with
``predict_split`` and evaluates them with ``evaluate_predictions``. Reported: the tracemalloc peak (NumPy, HDF5,
Python) and the growth of the process's peak RSS over its RSS just before inference (torch's allocations too).
Evaluation reads 64 images per chunk, so the small size should be at least 64 images for the comparison to be
about N and not about the chunk.

    python benchmarks/bench_memory.py --images 64 --factor 10
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import torch

MIB = 1 << 20


def rss_mib() -> float:
    """Current resident set size (Linux /proc)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / MIB


def child(images: int, size: int) -> dict:
    """Run inference + evaluation once; return the memory figures."""
    from bench_eval import make_dataset
    from uqseg.epistemic import build_method
    from uqseg.inference.config import InferenceConfig
    from uqseg.inference.evaluate import evaluate_predictions, evaluated_splits, prediction_path
    from uqseg.inference.predict import predict_split
    from uqseg.nn import build_model
    from uqseg.nn.config import ModelConfig

    torch.set_num_threads(1)
    data = make_dataset(64, size, test=images)
    cfg = ModelConfig(in_channels=1, num_classes=2, image_size=size, base_width=8, channel_mult=(1, 2),
                      num_res_blocks=1, attention_levels=(-1,), group_norm_groups=8, ssn={"rank": 2})
    members = []
    for seed in range(3):
        torch.manual_seed(seed)
        members.append(build_model("ssn", cfg))
    method = build_method("ensemble", members)
    infer = InferenceConfig(samples=4, ensemble_size=3, batch_size=8)
    with tempfile.TemporaryDirectory() as tmp:
        before = rss_mib()
        tracemalloc.start()
        start = time.perf_counter()
        for name in evaluated_splits(data):
            predict_split("ssn", "ensemble", method, data.split(name), prediction_path(Path(tmp), name), infer)
        evaluate_predictions(Path(tmp), data)
        wall = time.perf_counter() - start
        traced = tracemalloc.get_traced_memory()[1] / MIB
        tracemalloc.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"images": images, "traced": traced, "rss_growth": max(0.0, peak - before), "rss_peak": peak,
            "wall": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64, help="test images at the small size")
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.size)))
        return
    rows = []
    for n in (args.images, args.images * args.factor):
        out = subprocess.run([sys.executable, __file__, "--child", str(n), "--size", str(args.size)],
                             check=True, capture_output=True, text=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"ssn+ensemble M=3 S=4 width 8 at {args.size}×{args.size}; val and ood-noise 64 images; batch 8")
    print(f"{'test images':>12} {'traced peak MiB':>16} {'RSS growth MiB':>15} {'peak RSS MiB':>13} {'wall s':>7}")
    for r in rows:
        print(f"{r['images']:>12} {r['traced']:>16.1f} {r['rss_growth']:>15.1f} {r['rss_peak']:>13.1f} "
              f"{r['wall']:>7.1f}")
    small, large = rows
    print(f"ratio ({args.factor}× images): traced {large['traced'] / small['traced']:.2f}, "
          f"peak RSS {large['rss_peak'] / small['rss_peak']:.2f}")


if __name__ == "__main__":
    main()
