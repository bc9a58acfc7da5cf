"""Bad folder layouts: one line naming the file and the problem, exit status 2, nothing left at the output; and the
``folder:DATA`` reference in --datasets and presets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from prepare_folder_fixture import build_folder

from cli_runner import run_uqseg
from uqseg.data import get_dataset
from uqseg.data.prepare.folder import prepare_folder
from uqseg.errors import ConfigError, InputError
from uqseg.experiments.presets import resolve_config


def _source(tmp_path: Path) -> Path:
    return build_folder(tmp_path / "src", patients=4, slices=1, kinds=("png8",))


def _expect(source: Path, tmp_path: Path, pattern: str) -> None:
    out = tmp_path / "out"
    with pytest.raises(InputError, match=pattern):
        prepare_folder(source, out, echo=lambda line: None)
    assert not out.exists()


def test_image_without_annotations(tmp_path: Path) -> None:
    source = _source(tmp_path)
    for rater in ("r1", "r2", "r3"):
        (source / "annotations" / rater / "p2" / "s0.png").unlink()
    _expect(source, tmp_path, r"images/p2/s0\.png: image without annotations")


def test_annotations_without_image(tmp_path: Path) -> None:
    source = _source(tmp_path)
    (source / "images" / "p1" / "s0.png").unlink()
    _expect(source, tmp_path, r"annotations/r1/p1/s0\.png: annotation without an image")


def test_mask_size_differs_from_image(tmp_path: Path) -> None:
    source = _source(tmp_path)
    Image.fromarray(np.zeros((30, 32), dtype=np.uint8)).save(source / "annotations" / "r2" / "p3" / "s0.png")
    _expect(source, tmp_path, r"annotations/r2/p3/s0\.png: size 30×32 differs from its image .*p3/s0\.png \(32×32\)")


def test_images_of_different_sizes_without_a_resize_rule(tmp_path: Path) -> None:
    source = _source(tmp_path)
    Image.fromarray(np.zeros((40, 40), dtype=np.uint8)).save(source / "images" / "p3" / "s0.png")
    for rater in ("r1", "r2", "r3"):
        Image.fromarray(np.zeros((40, 40), dtype=np.uint8)).save(source / "annotations" / rater / "p3" / "s0.png")
    _expect(source, tmp_path, r"p3/s0\.png: size 40×40 differs from .*\(32×32\); set size")


def test_label_beyond_declared_classes(tmp_path: Path) -> None:
    source = _source(tmp_path)
    mask = np.zeros((32, 32), dtype=np.uint8)
    mask[5, 5] = 2
    Image.fromarray(mask).save(source / "annotations" / "r3" / "p0" / "s0.png")
    (source / "dataset.yaml").write_text("classes: [background, lesion]\n")
    _expect(source, tmp_path, r"annotations/r3/p0/s0\.png: label 2 is beyond the 2 declared classes 0…1")


def test_group_split_across_splits_in_splits_csv(tmp_path: Path) -> None:
    source = _source(tmp_path)
    (source / "splits.csv").write_text("id,split,group\np0/s0,train,g1\np1/s0,val,g2\np2/s0,test,g1\n"
                                       "p3/s0,train,g3\n")
    _expect(source, tmp_path, r"splits\.csv line 4: group 'g1' is in test here but in train on line 2")


def test_splits_csv_problems(tmp_path: Path) -> None:
    source = _source(tmp_path)
    (source / "splits.csv").write_text("id,split\np0/s0,train\np1/s0,val\np2/s0,test\n")
    _expect(source, tmp_path, r"splits\.csv: image 'p3/s0' has no row")
    (source / "splits.csv").write_text("id,split\np0/s0,train\np1/s0,val\np2/s0,holdout\np3/s0,train\n")
    _expect(source, tmp_path, r"splits\.csv line 4: split 'holdout' is not one of train, val, test")
    (source / "splits.csv").write_text("id,split\np0/s0,train\np9/s0,val\n")
    _expect(source, tmp_path, r"splits\.csv line 3: id 'p9/s0' has no image")


def test_dataset_yaml_problems(tmp_path: Path) -> None:
    source = _source(tmp_path)
    (source / "dataset.yaml").write_text("resize: squash\n")
    _expect(source, tmp_path, r"dataset\.yaml: resize: Input should be 'crop', 'pad' or 'stretch'")
    (source / "dataset.yaml").write_text("colour: red\n")
    _expect(source, tmp_path, r"dataset\.yaml: colour: Extra inputs are not permitted")


def test_built_in_names_are_refused(tmp_path: Path) -> None:
    source = _source(tmp_path)
    (source / "dataset.yaml").write_text("name: lidc\n")
    _expect(source, tmp_path, r"dataset name 'lidc' is a built-in dataset")


def test_other_bad_files(tmp_path: Path) -> None:
    source = _source(tmp_path)
    (source / "images" / "notes.txt").write_text("x")
    _expect(source, tmp_path, r"images/notes\.txt: unsupported file type")
    (source / "images" / "notes.txt").unlink()
    (source / "images" / "p0" / "s0.png").write_bytes(b"not a png")
    _expect(source, tmp_path, r"images/p0/s0\.png: not a readable image")


def test_cli_prints_one_line_and_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    source = _source(tmp_path)
    (source / "images" / "p1" / "s0.png").unlink()
    out = tmp_path / "out"
    code, _, err = run_uqseg(monkeypatch, capsys, "data", "prepare", "folder", "--source", str(source), "--out",
                             str(out), "--no-progress")
    assert code == 2 and not out.exists()
    assert err.strip().count("\n") == 0 and "annotation without an image" in err


def test_cli_prepares_and_folder_reference_resolves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    source = _source(tmp_path)
    out = tmp_path / "prepared"
    code, stdout, _ = run_uqseg(monkeypatch, capsys, "data", "prepare", "folder", "--source", str(source), "--out",
                                str(out), "--name", "my-set", "--no-progress")
    assert code == 0 and "dataset my-set" in stdout
    cfg = resolve_config("tiny", datasets=[f"folder:{out}"], combos=["softmax+dropout"])
    assert list(cfg.datasets) == ["my-set"] and cfg.datasets["my-set"].root == str(out.resolve())
    assert get_dataset("my-set", root=str(out)).info.num_annotators == 3
    with pytest.raises(ConfigError, match="holds the dataset 'my-set', not 'other'"):
        resolve_config("tiny", datasets=["other"], overrides=[f"datasets.other.root={out}"])
    with pytest.raises(ConfigError, match="not a prepared dataset manifest"):
        resolve_config("tiny", datasets=[f"folder:{tmp_path}"])
    with pytest.raises(InputError, match="holds the dataset 'my-set', not 'other'"):
        get_dataset("other", root=str(out))


def test_folder_reference_to_a_prepared_chaksu_uses_its_factory(tmp_path: Path) -> None:
    """folder:DATA of a prepared built-in dataset names that dataset; a folder dataset cannot pose as it."""
    data = tmp_path / "chaksu-like"
    data.mkdir()
    (data / "manifest.json").write_text('{"format": "uqseg-prepared", "dataset": "chaksu", "source_format": "x"}')
    cfg = resolve_config("tiny", datasets=[f"folder:{data}"], combos=["softmax+dropout"])
    assert list(cfg.datasets) == ["chaksu"] and cfg.datasets["chaksu"].root == str(data.resolve())
    (data / "manifest.json").write_text('{"format": "uqseg-prepared", "dataset": "mine", "source_format": "x"}')
    with pytest.raises(ConfigError, match="was not prepared by `uqseg data prepare folder`"):
        resolve_config("tiny", datasets=[f"folder:{data}"])
