"""A miniature prepared LIDC directory (the format of ``uqseg data prepare``), with one defect planted on request."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from uqseg.data.prepare.common import MANIFEST, PreparedWriter, write_manifest

SPLITS = ("train", "val", "test", "ood-noise")
FACTS = {"num_classes": 2, "num_annotators": 4, "stored_channels": 1, "in_channels": 3, "normalisation": "imagenet",
         "image_size": [16, 16]}


def make_prepared(root: Path, *, label: int | None = None, annotators: dict[str, int] | None = None,
                  sizes: dict[str, int] | None = None, manifest_max_label: int | None = None) -> Path:
    """Write a prepared LIDC of 16×16 discs at ``root``: ``label`` planted in train's annotations, per-split
    ``annotators`` and ``sizes`` overriding 4 annotators and 4 images, ``manifest_max_label`` overriding what the
    manifest records (a manifest that does not match its data)."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    writer = PreparedWriter(root)
    yy, xx = np.mgrid[:16, :16]
    for name in SPLITS:
        n, k = (sizes or {}).get(name, 4), (annotators or {}).get(name, 4)
        images = rng.uniform(0, 1, (n, 1, 16, 16)).astype(np.float32)
        disc = np.stack([np.hypot(yy - 7, xx - 9) < 3 + j for j in range(k)]).astype(np.uint8)
        annotations = np.repeat(disc[None], n, axis=0)
        if label is not None and name == "train":
            annotations[0, 0, 2, 3] = label
        if n:
            writer.create_split(name, n, (1, 16, 16), (k, 16, 16))
            writer.write(name, 0, images, annotations)
        else:
            _empty(writer, name, k)
        writer.write_strings(name, "ids", [f"{name}-{i}" for i in range(n)])
    writer.close()
    write_manifest(root, "lidc", FACTS, writer, [])
    if manifest_max_label is not None:
        manifest = json.loads((root / MANIFEST).read_text())
        for split in manifest["splits"].values():
            split["max_label"] = min(split["max_label"], manifest_max_label)
        (root / MANIFEST).write_text(json.dumps(manifest))
    return root


def _empty(writer: PreparedWriter, name: str, k: int) -> None:
    group = writer._file.create_group(name)
    group.create_dataset("images", shape=(0, 1, 16, 16), dtype=np.float32)
    group.create_dataset("annotations", shape=(0, k, 16, 16), dtype=np.uint8)
    writer.counts[name] = 0
    writer.max_label[name] = 0
