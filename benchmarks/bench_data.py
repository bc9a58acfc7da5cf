"""Synthetic data generation speed: images per second of ``synthetic-lidc`` and ``synthetic-chaksu``.

Counts every image generated, OOD splits included (synthetic-lidc's four shifted copies of the test set), in
memory (no cache). Repeats each run and reports the fastest wall time and the process CPU time of that run: on a
shared, oversubscribed machine the CPU time is the better estimate of the wall time on an idle one (the generators
are single-threaded NumPy/SciPy/OpenCV).

    python benchmarks/bench_data.py --size 64 --images 2000 --repeats 3
"""

from __future__ import annotations

import argparse
import time

from uqseg.data import get_dataset

SPLITS = {"synthetic-lidc": (0.7, 0.1, 0.05), "synthetic-chaksu": (0.7, 0.1, 0.1)}


def counts(name: str, total: int) -> dict[str, int]:
    """n_train, n_val, n_test giving about ``total`` images in all (lidc: test ×5 with the shifts; chaksu: ×2)."""
    train, val, test = SPLITS[name]
    return {"n_train": int(total * train), "n_val": int(total * val), "n_test": int(total * test)}


def time_generation(name: str, size: int, total: int, repeats: int) -> tuple[int, float, float]:
    """The number of images generated and the fastest (wall, CPU) seconds of ``repeats`` generations."""
    best, generated = (float("inf"), float("inf")), 0
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        dataset = get_dataset(name, image_size=size, **counts(name, total))
        best = min(best, (time.perf_counter() - wall, time.process_time() - cpu))
        generated = sum(len(dataset.split(split)) for split in dataset.split_names)
    return generated, *best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print("| dataset | images | size | wall s | CPU s | images/s (CPU) |")
    print("|---|---|---|---|---|---|")
    for name in SPLITS:
        generated, wall, cpu = time_generation(name, args.size, args.images, args.repeats)
        print(f"| {name} | {generated} | {args.size}×{args.size} | {wall:.2f} | {cpu:.2f} | {generated / cpu:.0f} |")


if __name__ == "__main__":
    main()
