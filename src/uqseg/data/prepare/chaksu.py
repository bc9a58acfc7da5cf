"""``uqseg data prepare chaksu``: Chákṣu IMAGE into uqseg's prepared format (docs/method.md §8, paper §3.1).

Splits, as in the authors' ``gen_splits_chaksu.py``: the Remidio training images, in the order of their paths,
go through ``sklearn.model_selection.KFold(n_splits=5, shuffle=True, random_state=123)``; fold 0 gives
``train`` (648) and ``val`` (162). ``test`` is the Remidio test images (264); ``ood`` is every Bosch and Forus
image, training part first (271). Each image is processed by :func:`uqseg.data.prepare.chaksu_image.process_sample`.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import KFold

from uqseg.atomic import atomic_directory
from uqseg.data.prepare.chaksu_files import NUM_EXPERTS, ChaksuImage, discover
from uqseg.data.prepare.chaksu_image import IMAGE_SIZE, MEAN_DISC_DIAMETER, load_sample
from uqseg.data.prepare.common import PreparedWriter, check_output, progress_bar, require_dir, write_manifest
from uqseg.data.prepared import open_prepared
from uqseg.errors import InputError

KFOLD_SPLITS = 5
KFOLD_SEED = 123
KFOLD_FOLD = 0
ID_DEVICE = "Remidio"
OOD_DEVICES = ("Bosch", "Forus")
PAPER_COUNTS = {"train": 648, "val": 162, "test": 264, "ood": 271}
CHAKSU_FACTS = {
    "num_classes": 3,
    "num_annotators": NUM_EXPERTS,
    "stored_channels": 3,
    "in_channels": 3,
    "normalisation": "standardise",
    "class_names": ["background", "disc rim", "cup"],
}


def chaksu_splits(found: dict[tuple[str, str], list[ChaksuImage]]) -> dict[str, list[ChaksuImage]]:
    """The images of ``train``, ``val``, ``test`` and ``ood`` (module docstring)."""
    remidio = found[("Train", ID_DEVICE)]
    if len(remidio) < KFOLD_SPLITS:
        raise InputError(f"only {len(remidio)} Remidio training images; the {KFOLD_SPLITS}-fold split needs more")
    folds = KFold(n_splits=KFOLD_SPLITS, shuffle=True, random_state=KFOLD_SEED).split(np.arange(len(remidio)))
    train, val = list(folds)[KFOLD_FOLD]
    return {
        "train": [remidio[i] for i in train],
        "val": [remidio[i] for i in val],
        "test": list(found[("Test", ID_DEVICE)]),
        "ood": [item for part in ("Train", "Test") for device in OOD_DEVICES for item in found[(part, device)]],
    }


def _loaded(items: list[ChaksuImage], workers: int) -> Iterator[tuple[np.ndarray, np.ndarray, tuple, list[str]]]:
    """``load_sample`` of every item, in order; with ``workers`` > 1 in spawned processes (no forked HDF5 or
    progress-bar threads) that ignore Ctrl-C, and are killed, their queued work cancelled, as soon as one image
    fails or this process is interrupted (``uqseg`` then exits 130 without worker tracebacks)."""
    if workers <= 1:
        yield from map(load_sample, items)
        return
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=signal.signal, initargs=(signal.SIGINT, signal.SIG_IGN))
    try:
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None  # workers start ignoring Ctrl-C
        try:
            results = pool.map(load_sample, items, chunksize=4)
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        yield from results
    except BaseException:  # ... and this process stops them at once on Ctrl-C or a failed image
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()
        pool.shutdown(wait=True, cancel_futures=True)  # the workers are dead: this only joins the pool's manager
        raise
    pool.shutdown(wait=True)


def prepare_chaksu(source: Path | str, output: Path | str, *, overwrite: bool = False, progress: bool = False,
                   workers: int = 1, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Prepare Chákṣu IMAGE from its original folder tree ``source`` into ``output``; return the manifest.

    On any error nothing is left at ``output`` (an existing output is replaced only on success with ``overwrite``).
    """
    source = require_dir(source, "Chákṣu root")
    output = check_output(output, overwrite)
    splits = chaksu_splits(discover(source))
    counts = {name: len(items) for name, items in splits.items()}
    paper = "/".join(str(n) for n in PAPER_COUNTS.values())
    echo(f"Chákṣu: {', '.join(f'{name} {n}' for name, n in counts.items())} images; "
         f"{'matches' if counts == PAPER_COUNTS else 'differs from'} the paper's {paper}")
    digest = hashlib.sha256()
    with atomic_directory(output) as tmp:
        writer = PreparedWriter(tmp)
        try:
            with progress_bar(progress) as bar:
                for name, items in splits.items():
                    _write_split(writer, name, items, workers, digest, source, bar)
        finally:
            writer.close()
        facts = {**CHAKSU_FACTS, "image_size": [IMAGE_SIZE, IMAGE_SIZE], "source_format": "chaksu-tree"}
        extra = {"split": f"KFold({KFOLD_SPLITS}, shuffle, seed {KFOLD_SEED}) fold {KFOLD_FOLD} of Remidio train",
                 "mean_disc_diameter": MEAN_DISC_DIAMETER}
        sources = [{"name": source.name, "files": sum(len(items) * (1 + 2 * NUM_EXPERTS) for items in splits.values()),
                    "sha256": digest.hexdigest()}]
        manifest = write_manifest(tmp, "chaksu", facts, writer, sources, extra)
        open_prepared(tmp, "chaksu", verify=True)
    return manifest


def _write_split(writer: PreparedWriter, name: str, items: list[ChaksuImage], workers: int, digest: Any,
                 source: Path, bar: Any) -> None:
    task = bar.add_task(f"Chákṣu {name}", total=len(items))
    writer.create_split(name, len(items), (3, IMAGE_SIZE, IMAGE_SIZE), (NUM_EXPERTS, IMAGE_SIZE, IMAGE_SIZE))
    crops = []
    for row, (item, (image, labels, crop, digests)) in enumerate(zip(items, _loaded(items, workers), strict=True)):
        writer.write(name, row, image[None], labels[None])
        crops.append(crop)
        _update_digest(digest, source, item, digests)
        bar.advance(task)
    writer.write_strings(name, "ids", [item.id for item in items])
    writer.write_strings(name, "devices", [item.device for item in items])
    writer.write_array(name, "crops", np.asarray(crops, dtype=np.int64))


def _update_digest(digest: Any, source: Path, item: ChaksuImage, digests: Iterable[str]) -> None:
    paths = [item.path, *(path for pair in item.masks for path in pair)]
    for path, file_digest in zip(paths, digests, strict=True):
        digest.update(f"{path.relative_to(source).as_posix()}\0{file_digest}\n".encode())
