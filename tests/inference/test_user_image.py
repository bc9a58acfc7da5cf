"""A user's image for ``uqseg predict``: every Pillow mode, the C×H×W ``.npy`` layout, aspect ratio kept and the
maps returned at the input's size, distinct output folders for distinct inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from uqseg.errors import InputError
from uqseg.experiments.image import predict_folder
from uqseg.inference.user_image import read_image, to_image_size, to_model_input

H, W = 6, 8
SQUARE = (slice(1, 4), slice(2, 6))


def _grey() -> np.ndarray:
    a = np.full((H, W), 50, np.uint8)
    a[SQUARE] = 200
    return a


def _rgb() -> np.ndarray:
    a = np.empty((H, W, 3), np.uint8)
    a[:] = (40, 60, 90)
    a[SQUARE] = (230, 200, 150)
    return a


def _save(img: Image.Image, path: Path) -> Path:
    img.save(path)
    return path


GREY_MODES = {
    "1": lambda p: _save(Image.fromarray(_grey() > 100), p / "a.png"),
    "L": lambda p: _save(Image.fromarray(_grey()), p / "a.png"),
    "LA": lambda p: _save(Image.fromarray(_grey()).convert("LA"), p / "a.png"),
    "I;16": lambda p: _save(Image.fromarray(_grey().astype(np.uint16) * 257), p / "a.png"),
    "I": lambda p: _save(Image.fromarray(_grey().astype(np.int32) * 257), p / "a.tif"),
    "F": lambda p: _save(Image.fromarray(_grey().astype(np.float32) / 255), p / "a.tif"),
}
COLOUR_MODES = {
    "RGB": lambda p: _save(Image.fromarray(_rgb()), p / "a.png"),
    "RGBA": lambda p: _save(Image.fromarray(_rgb()).convert("RGBA"), p / "a.png"),
    "P": lambda p: _save(Image.fromarray(_rgb()).quantize(2), p / "a.png"),
    "PA": lambda p: _save(Image.fromarray(_rgb()).quantize(2).convert("PA"), p / "a.tif"),
    "CMYK": lambda p: _save(Image.fromarray(_rgb()).convert("CMYK"), p / "a.tif"),
}


@pytest.mark.parametrize("mode", list(GREY_MODES))
def test_grey_modes_read_as_one_grey_channel(mode: str, tmp_path: Path) -> None:
    path = GREY_MODES[mode](tmp_path)
    assert Image.open(path).mode == mode
    image = read_image(path)
    expect = (_grey() > 100).astype(np.float32) if mode == "1" else _grey() / 255
    assert image.shape == (1, H, W) and image.dtype == np.float32
    np.testing.assert_allclose(image[0], expect, atol=1e-3)


@pytest.mark.parametrize("mode", list(COLOUR_MODES))
def test_colour_modes_read_as_rgb(mode: str, tmp_path: Path) -> None:
    path = COLOUR_MODES[mode](tmp_path)
    assert Image.open(path).mode == mode
    image = read_image(path)
    assert image.shape == (3, H, W)
    np.testing.assert_allclose(image, _rgb().transpose(2, 0, 1) / 255, atol=2 / 255)


def test_palette_indices_are_not_read_as_intensities(tmp_path: Path) -> None:
    """Index 0 is white and index 1 black: the dark background (index 1) must stay dark."""
    img = Image.fromarray(np.where(_grey() > 100, 0, 1).astype(np.uint8), mode="P")
    img.putpalette([255, 255, 255, 0, 0, 0])
    image = read_image(_save(img, tmp_path / "p.png"))
    x, _ = to_model_input(image, in_channels=1, size=W, normalise="none")
    assert image[:, 0, 0].tolist() == [0, 0, 0] and image[:, 2, 3].tolist() == [1, 1, 1]
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0


@pytest.mark.parametrize("mode", [*GREY_MODES, *COLOUR_MODES])
@pytest.mark.parametrize("channels", [1, 3])
def test_every_mode_reaches_the_model_channels(mode: str, channels: int, tmp_path: Path) -> None:
    image = read_image({**GREY_MODES, **COLOUR_MODES}[mode](tmp_path))
    x, placement = to_model_input(image, in_channels=channels, size=16, normalise="none")
    assert x.shape == (1, channels, 16, 16) and x.dtype == torch.float32
    back = to_image_size(x[0], placement)
    assert back.shape == (channels, H, W)
    assert float(back[:, 2, 3].min()) > float(back[:, 5, 0].max())  # the square stays brighter than the background


def test_npy_is_channels_first(tmp_path: Path) -> None:
    array = np.zeros((3, H, W), np.float32)
    array[0][SQUARE] = 1.0
    np.save(tmp_path / "c.npy", array)
    image = read_image(tmp_path / "c.npy")
    np.testing.assert_array_equal(image, array)
    x, placement = to_model_input(image, in_channels=3, size=16, normalise="none")
    back = to_image_size(x[0], placement)
    assert float(back[0][SQUARE].min()) > 0.5 and float(back[1:].abs().max()) == 0.0
    np.save(tmp_path / "g.npy", array[0].astype(np.uint8))
    assert read_image(tmp_path / "g.npy").shape == (1, H, W)
    np.save(tmp_path / "hwc.npy", np.zeros((H, W, 3), np.float32))
    with pytest.raises(InputError, match=r"6 channels.*C×H×W"):
        to_model_input(read_image(tmp_path / "hwc.npy"), in_channels=3, size=16)


def test_aspect_ratio_kept_and_maps_at_the_input_size() -> None:
    image = np.zeros((1, 20, 40), np.float32)
    image[0, 5:15, 10:20] = 1.0  # a square stays a square
    x, placement = to_model_input(image, in_channels=1, size=16, normalise="none")
    assert (placement.top, placement.left, placement.height, placement.width) == (4, 0, 8, 16)
    rows, cols = np.nonzero(x[0, 0].numpy() > 0.5)
    assert rows.max() - rows.min() == cols.max() - cols.min()
    back = to_image_size(x[0, 0], placement)
    assert back.shape == (20, 40)
    assert float(back[8:12, 13:17].min()) > 0.9 and float(back[:, 30:].max()) < 0.1
    maps = to_image_size(np.ones((2, 16, 16), np.float32), placement)
    assert isinstance(maps, np.ndarray) and maps.shape == (2, 20, 40) and np.allclose(maps, 1.0)


def test_standardised_over_the_image_not_the_padding() -> None:
    image = np.random.default_rng(0).random((1, 10, 30)).astype(np.float32)
    x, p = to_model_input(image, in_channels=1, size=24, normalise="standardise")
    content = x[0, 0, p.top:p.top + p.height, p.left:p.left + p.width]
    assert abs(float(content.mean())) < 1e-5 and abs(float(content.std()) - 1) < 1e-2


def test_distinct_inputs_get_distinct_output_folders(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    names = [tmp_path / "x.png", tmp_path / "x.jpg", tmp_path / "a" / "x.png"]
    folders = [predict_folder(tmp_path / "run", image, "ssn+swag") for image in names]
    assert len(set(folders)) == 3
    assert all(f.parent.parent == tmp_path / "run" / "predict" and f.name == "ssn+swag" for f in folders)
    assert folders[0].parent.name.startswith("x.png") and folders[1].parent.name.startswith("x.jpg")
    assert predict_folder(tmp_path / "run", names[0], "ssn+swag") == folders[0]
