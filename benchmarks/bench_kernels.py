"""The small kernels of the quick preset's network, one variant against another, on one CPU thread.

Each row times one operation at the shapes of the quick network (width 8, channel_mult 1,2,4, batch 96 = 32 images
× S = 3 samples, as one diffusion denoiser call at inference), forward only or forward + backward, as the median of
``--repeats`` interleaved timings (CPU time of this process, so a busy machine inflates the figures less):

- attention at the deepest level: scaled_dot_product_attention on the strided q, k, v that a transpose leaves
  (CPU falls back to its math path, with a safe softmax that scans for all −inf rows) against contiguous ones (the
  flash kernel, what ``uqseg.nn.blocks.AttentionBlock`` does);
- GroupNorm (8 groups) on NCHW against channels_last tensors;
- replicate padding by one pixel (``padding_mode: replicate``) on NCHW against channels_last tensors.

    python benchmarks/bench_kernels.py --repeats 15
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

CL = torch.channels_last
LEVELS = ((8, 32), (16, 16), (32, 8))  # (channels, side) per level of the quick network
HEADS = 2


def cpu_time(fn: Callable[[], object]) -> float:
    """CPU seconds of one call."""
    start = time.process_time()
    fn()
    return time.process_time() - start


def median_times(variants: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median CPU ms per variant, the variants interleaved in every repeat after one warm-up call each."""
    for fn in variants.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            times[name].append(cpu_time(fn))
    return {name: 1000 * statistics.median(t) for name, t in times.items()}


def with_backward(op: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> Callable[[], object]:
    """op(x) and its backward through a sum."""
    leaf = x.detach().requires_grad_()
    return lambda: op(leaf).sum().backward()


def attention_rows(batch: int, repeats: int) -> list[tuple[str, str, float, float]]:
    """Attention at the deepest level: strided against contiguous q, k, v."""
    channels, side = LEVELS[-1]
    q, k, v = (torch.randn(batch, HEADS, channels // HEADS, side * side) for _ in range(3))

    def strided(t: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return F.scaled_dot_product_attention(*(x.transpose(-1, -2) for x in t))

    def contiguous(t: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return F.scaled_dot_product_attention(*(x.transpose(-1, -2).contiguous() for x in t))

    rows = []
    with torch.inference_mode():
        fwd = median_times({"a": lambda: strided((q, k, v)), "b": lambda: contiguous((q, k, v))}, repeats)
    leaves = tuple(x.detach().requires_grad_() for x in (q, k, v))
    both = median_times({"a": lambda: strided(leaves).sum().backward(),
                         "b": lambda: contiguous(leaves).sum().backward()}, repeats)
    rows.append(("attention, forward", f"{channels}×{side}²", fwd["a"], fwd["b"]))
    rows.append(("attention, forward + backward", f"{channels}×{side}²", both["a"], both["b"]))
    return rows


def layout_rows(name: str, op: Callable[[torch.Tensor], torch.Tensor], batch: int,
                repeats: int) -> list[tuple[str, str, float, float]]:
    """``op`` on NCHW against channels_last input at every level, forward and forward + backward."""
    rows = []
    for channels, side in LEVELS:
        x = torch.randn(batch, channels, side, side)
        xc = x.contiguous(memory_format=CL)
        with torch.inference_mode():
            fwd = median_times({"a": lambda x=x: op(x), "b": lambda xc=xc: op(xc)}, repeats)
        both = median_times({"a": with_backward(op, x), "b": with_backward(op, xc)}, repeats)
        rows.append((f"{name}, forward", f"{channels}×{side}²", fwd["a"], fwd["b"]))
        rows.append((f"{name}, forward + backward", f"{channels}×{side}²", both["a"], both["b"]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print("| operation | channels × pixels | A ms | B ms | A / B |")
    print("|---|---|---|---|---|")
    print("| *A = strided q, k, v; B = contiguous* | | | | |")
    for row in attention_rows(args.batch, args.repeats):
        print(f"| {row[0]} | {row[1]} | {row[2]:.2f} | {row[3]:.2f} | {row[2] / row[3]:.2f} |")
    print("| *A = NCHW; B = channels_last* | | | | |")
    for row in (layout_rows("GroupNorm(8)", lambda x: F.group_norm(x, 8), args.batch, args.repeats)
                + layout_rows("replicate pad 1", lambda x: F.pad(x, (1, 1, 1, 1), mode="replicate"), args.batch,
                              args.repeats)):
        print(f"| {row[0]} | {row[1]} | {row[2]:.2f} | {row[3]:.2f} | {row[2] / row[3]:.2f} |")


if __name__ == "__main__":
    main()
