"""``uqseg data show``: the PNG grid and its oracle-variance map."""

import sys

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from uqseg.cli import app, main
from uqseg.data import get_dataset
from uqseg.data.show import display_image, oracle_variance, write_grid


def test_oracle_variance_by_hand() -> None:
    oracle = np.zeros((1, 3, 1, 3), np.float32)
    oracle[0, :, 0, 0] = [1.0, 0.0, 0.0]
    oracle[0, :, 0, 1] = [0.5, 0.5, 0.0]
    oracle[0, :, 0, 2] = [0.2, 0.3, 0.5]
    expected = [0.0, 0.5, 1 - (0.04 + 0.09 + 0.25)]
    np.testing.assert_allclose(oracle_variance(oracle)[0, 0], expected, atol=1e-6)


def test_display_image_keeps_orientation_and_colour() -> None:
    grey = np.arange(6, dtype=np.float32).reshape(1, 2, 3)
    np.testing.assert_allclose(display_image(grey), grey[0] / 5)
    rgb = np.stack([grey[0], 5 - grey[0], np.zeros((2, 3))]).astype(np.float32)
    shown = display_image(rgb)
    assert shown.shape == (2, 3, 3) and shown[0, 0, 1] == 1.0 and shown[1, 2, 0] == 1.0


def test_grid_of_chaksu(tmp_path) -> None:
    data = get_dataset("synthetic-chaksu", image_size=16, n_train=1, n_val=1, n_test=4)
    out = write_grid(data, tmp_path / "grid.png", n=3)
    with Image.open(out) as image:
        assert image.format == "PNG" and image.width > 3 * image.height / 2


def test_cli_writes_the_png(tmp_path, monkeypatch) -> None:
    import uqseg.data.show as show

    def small(name: str, **options):
        return get_dataset(name, image_size=16, n_train=1, n_val=1, n_test=2, **options)

    monkeypatch.setattr(show, "get_dataset", small)
    out = tmp_path / "lidc.png"
    result = CliRunner().invoke(app, ["data", "show", "synthetic-lidc", "--out", str(out), "--n", "2",
                                      "--cache-dir", str(tmp_path / "cache"), "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert out.is_file() and list((tmp_path / "cache").glob("synthetic-lidc-*.npz"))
    with Image.open(out) as image:
        assert image.format == "PNG"


def test_cli_unknown_dataset_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(sys, "argv", ["uqseg", "data", "show", "nope", "--out", str(tmp_path / "x.png")])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert "unknown dataset 'nope'" in error and "Traceback" not in error
