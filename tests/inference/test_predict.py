"""Streamed inference: No-EU convention, S = 1 for softmax, orientation, determinism, NaN detection, memory."""

from __future__ import annotations

import gc
import json
import tracemalloc

import h5py
import numpy as np
import pytest
import torch
from epistemic_doubles import NoisyNet
from inference_doubles import tiny_dataset
from torch import Tensor

from uqseg.data.contract import Split
from uqseg.epistemic import SwagState, build_method
from uqseg.errors import NumericalError
from uqseg.inference.config import InferenceConfig
from uqseg.inference.evaluate import _read_chunk
from uqseg.inference.predict import group_seed, predict_split
from uqseg.metrics import instance_ged
from uqseg.nn.base import AleatoricModel
from uqseg.store import read_attrs
from uqseg.uncertainty import decompose, discretize

CFG = InferenceConfig(samples=4, instances=3, batch_size=3, instance_group=2, stored_sample_images=2, seed=5)


def _entropy(p: np.ndarray) -> np.ndarray:
    return -(p * np.log(np.clip(p, 1e-300, None))).sum(-3)


def test_no_eu_convention_every_sample_is_an_instance(tmp_path) -> None:
    split = tiny_dataset().split("test")
    method = build_method("none", [NoisyNet(seed=1)])
    path = predict_split("ssn", "none", method, split, tmp_path / "test.h5", CFG)
    with torch.no_grad():
        first = method.sample_reference(torch.from_numpy(split.images[0:3]), 4, [0], group_seed(5, 0, 0))[0]
    p = first.double().numpy()  # S×B×C×H×W, each sample its own instance
    with h5py.File(path) as f:
        np.testing.assert_allclose(f["tu"][:3], _entropy(p.mean(0)), atol=1e-5)
        np.testing.assert_allclose(f["au"][:3], _entropy(p).mean(0), atol=1e-5)
        assert f["eu"][:3].mean() > 1e-3
        np.testing.assert_allclose(f["mean"][:3], p.mean(0), atol=1e-3)
        np.testing.assert_array_equal(f["pred"][:3], p.mean(0).argmax(1))
        assert f["samples"].shape == (2, 4, 2, 16, 16)
        np.testing.assert_allclose(f["samples"][:2], p[:, :2].transpose(1, 0, 2, 3, 4), atol=1e-3)
        ann = split.annotations[0:3]
        ged_ref = instance_ged(ann, p.argmax(2)[None], 2)  # No-EU: one GED over all S samples
        np.testing.assert_allclose(f["ged_dice"][:3], ged_ref["dice"].mean(0), atol=1e-12)
        np.testing.assert_allclose(f["ged_iou"][:3], ged_ref["iou"].mean(0), atol=1e-12)
        maps = np.concatenate([p.mean(0).argmax(1)[None], p.argmax(2)])  # mean argmax, then each instance's
        np.testing.assert_allclose(f["bg_fraction"][:3], (maps == 0).mean((0, 2, 3)), atol=1e-12)
    attrs = read_attrs(path)
    assert (attrs["S"], attrs["M"], attrs["num_images"], attrs["au"], attrs["eu"]) == (4, 1, 4, "ssn", "none")


def test_eu_method_matches_decomposition_of_instances(tmp_path) -> None:
    """docs/method.md §1 nesting: average S samples inside each instance, then decompose over the M instances."""
    split = tiny_dataset().split("val")
    method = build_method("ensemble", [NoisyNet(seed=s) for s in range(3)])
    path = predict_split("ssn", "ensemble", method, split, tmp_path / "val.h5", CFG)
    images = torch.from_numpy(split.images[3:6])  # batch 1 (the batched AU noise depends on the whole batch)
    with torch.no_grad():
        groups = [method.sample_instances(images, 4, ms, group_seed(5, 1, g)) for g, ms in enumerate([[0, 1], [2]])]
    p_m = torch.cat(groups)[:, :, :1].double().mean(1).numpy()  # M×B×C×H×W instance means of image 3
    ref = decompose(p_m[:, None])
    with h5py.File(path) as f:
        np.testing.assert_allclose(f["tu"][3:4], ref.tu, atol=1e-5)
        np.testing.assert_allclose(f["au"][3:4], ref.au, atol=1e-5)
        np.testing.assert_allclose(f["eu"][3:4], ref.eu, atol=1e-5)
        labels = torch.cat(groups)[:, :, :1].argmax(3).numpy()  # M×S×1×H×W
        ged_ref = instance_ged(split.annotations[3:4], labels, 2)
        np.testing.assert_allclose(f["ged_dice"][3:4], ged_ref["dice"].mean(0), atol=1e-12)
        np.testing.assert_allclose(f["ged_iou"][3:4], ged_ref["iou"].mean(0), atol=1e-12)
        maps = np.concatenate([f["pred"][3:4][None], torch.cat(groups)[:, :, :1].mean(1).argmax(2).numpy()])
        np.testing.assert_allclose(f["bg_fraction"][3:4], (maps == 0).mean((0, 2, 3)), atol=1e-12)


def test_softmax_uses_one_sample(tmp_path) -> None:
    split = tiny_dataset().split("test")
    method = build_method("ensemble", [NoisyNet(noise=0.0, seed=s) for s in range(2)])
    path = predict_split("softmax", "ensemble", method, split, tmp_path / "t.h5", CFG)
    with h5py.File(path) as f:
        assert f.attrs["S"] == 1 and f["samples"].shape[1] == 1


class PixelNet(AleatoricModel):
    """Deterministic: p(class 1) = sigmoid(8·(x − 0.5)) per pixel, so maps mirror the image exactly."""

    def __init__(self) -> None:
        super().__init__()
        self.num_classes = 2
        self.scale = torch.nn.Parameter(torch.tensor(8.0))

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        return self.scale * 0

    def sample(self, images: Tensor, n: int) -> Tensor:
        p1 = torch.sigmoid(self.scale * (images[:, :1] - 0.5))
        return torch.cat([1 - p1, p1], 1).unsqueeze(0).expand(n, -1, -1, -1, -1)


def test_orientation_matches_annotations(tmp_path) -> None:
    """A non-symmetric image: stored maps and argmax sit where the image and annotations are (docs/method.md §9.1)."""
    images = np.zeros((2, 1, 16, 16), np.float32)
    images[:, 0, 1:5, 9:15] = 1.0  # an L-shape in the top right corner
    images[:, 0, 5:12, 13:15] = 1.0
    images[:, 0, 12, 2] = 0.5  # the single maximal-uncertainty pixel, at row 12, column 2
    annotations = np.repeat((images > 0.75).astype(np.int64), 2, axis=1)
    split = Split("test", images, annotations)
    path = predict_split("ssn", "none", build_method("none", [PixelNet()]), split, tmp_path / "o.h5", CFG)
    with h5py.File(path) as f:
        np.testing.assert_array_equal(f["pred"][:], annotations[:, 0])
        tu = f["tu"][0]
        assert np.unravel_index(tu.argmax(), tu.shape) == (12, 2)
        np.testing.assert_allclose(tu[12, 2], np.log(2), atol=1e-5)


def test_deterministic_given_seed(tmp_path) -> None:
    split = tiny_dataset().split("test")
    runs = []
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        method = build_method("dropout", [NoisyNet(dropout=0.3, seed=1)], instances=3, seed=seed)
        path = predict_split("ssn", "dropout", method, split, tmp_path / f"{name}.h5", CFG.model_copy(
            update={"seed": seed}))
        with h5py.File(path) as f:
            runs.append(f["eu"][:])
    np.testing.assert_array_equal(runs[0], runs[1])
    assert np.abs(runs[0] - runs[2]).max() > 1e-4


def test_nan_raises_naming_combo_split_and_image(tmp_path) -> None:
    split = tiny_dataset().split("ood-noise")
    images = np.array(split.images)
    images[2, 0, 3, 3] = np.nan
    bad = Split("ood-noise", images, split.annotations)
    out = tmp_path / "ood-noise.h5"
    model = NoisyNet(seed=0)
    state = SwagState.empty(dict(model.named_parameters()), 3)
    for _ in range(3):
        state.update({k: v + torch.randn(v.shape) * 0.01 for k, v in model.named_parameters()})
    method = build_method("swag", [model], swag_state=state, instances=2)
    with pytest.raises(NumericalError, match=r"ssn\+swag split 'ood-noise'.*image index 2"):
        predict_split("ssn", "swag", method, bad, out, CFG)
    assert not out.exists() and not list(tmp_path.iterdir())


def _peak(tmp_path, n: int) -> int:
    split = tiny_dataset({"test": n}, size=32).split("test")
    method = build_method("ensemble", [NoisyNet(seed=s) for s in range(2)])
    cfg = CFG.model_copy(update={"batch_size": 8})
    predict_split("ssn", "ensemble", method, tiny_dataset({"test": 2}).split("test"), tmp_path / "warm.h5", cfg)
    gc.collect()
    tracemalloc.start()
    predict_split("ssn", "ensemble", method, split, tmp_path / f"{n}.h5", cfg)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_memory_does_not_grow_with_images(tmp_path) -> None:
    """Peak traced memory (NumPy/HDF5 side; the split's arrays exist before tracing) is flat in N."""
    small, large = _peak(tmp_path, 8), _peak(tmp_path, 64)
    assert large <= 1.2 * small, (small, large)


def test_discretize_option_one_hots_every_sample(tmp_path) -> None:
    """Paper appendix A.3: with No-EU every one-hot sample has entropy 0, so AU = 0 and EU = TU."""
    split = tiny_dataset().split("test")
    method = build_method("none", [NoisyNet(seed=1)])
    path = predict_split("ssn", "none", method, split, tmp_path / "d.h5", CFG.model_copy(update={"discretize": True}))
    with torch.no_grad():
        first = method.sample_reference(torch.from_numpy(split.images[0:3]), 4, [0], group_seed(5, 0, 0))[0]
    hot = discretize(first).double().numpy()
    assert ((hot.mean(0) > 0) & (hot.mean(0) < 1)).any() and (hot.mean(0) % 0.25 == 0).all()
    with h5py.File(path) as f:
        assert (f["au"][:] == 0).all()
        np.testing.assert_allclose(f["tu"][:3], _entropy(hot.mean(0)), atol=1e-5)
        np.testing.assert_allclose(f["eu"][:3], f["tu"][:3])
        assert json.loads(f.attrs["config"])["discretize"] is True


def test_evaluation_reads_the_stored_pred(tmp_path) -> None:
    split = tiny_dataset().split("test")
    path = predict_split("ssn", "none", build_method("none", [NoisyNet(seed=1)]), split, tmp_path / "t.h5", CFG)
    with h5py.File(path, "r+") as f:
        f["mean"][:] = f["mean"][:][:, ::-1]  # the stored mean's argmax now disagrees with pred
        batch = _read_chunk(f, path, split, 0, 3, 2)
        np.testing.assert_array_equal(batch["pred"], f["pred"][:3])
        assert (batch["pred"] != batch["mean"].argmax(1)).any()
        np.testing.assert_array_equal(batch["ged_iou"], f["ged_iou"][:3])


def test_class_argmax_equals_argmax_ties_included() -> None:
    from uqseg.inference.predict import class_argmax

    p = torch.rand(2, 3, 4, 3, 5, 6)
    p[..., 0, 0] = 0.5  # ties between every class: the first one wins in both
    for dim in (1, 3):
        torch.testing.assert_close(class_argmax(p, dim), p.argmax(dim), rtol=0, atol=0)


def test_channels_last_images_give_the_same_maps(tmp_path) -> None:
    from uqseg.nn import build_model
    from uqseg.nn.config import ModelConfig

    split = tiny_dataset().split("test")
    cfg = ModelConfig(in_channels=split.images.shape[1], num_classes=2, image_size=split.images.shape[-1],
                      base_width=8, channel_mult=(1, 2), num_res_blocks=1, num_heads=2, group_norm_groups=8,
                      dropout=0.2, padding_mode="replicate")
    torch.manual_seed(0)
    model = build_model("ssn", cfg)
    maps = []
    for name, channels_last in (("nchw", False), ("nhwc", True)):
        method = build_method("dropout", [model], instances=3, seed=2)
        path = predict_split("ssn", "dropout", method, split, tmp_path / f"{name}.h5",
                             CFG.model_copy(update={"channels_last": channels_last}))
        with h5py.File(path) as f:
            maps.append({k: f[k][:] for k in ("tu", "au", "eu", "pred")})
    for key in ("tu", "au", "eu"):
        np.testing.assert_allclose(maps[0][key], maps[1][key], atol=1e-5)
    assert (maps[0]["pred"] != maps[1]["pred"]).mean() < 0.01
