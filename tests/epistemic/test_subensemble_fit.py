"""Sub-ensemble mask training: it lowers the objective and trains only the mask logits; the extracted sub-models
differ from each other and from the base model; the sub-ensemble's EU/AU ratio is finite and positive, as MC
dropout's on the same base model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from epistemic_doubles import NoisyNet
from torch import nn

from uqseg.data.contract import Split
from uqseg.epistemic.dropout import MCDropout
from uqseg.epistemic.subensemble import SubEnsemble, SubensembleMasks, attach_masks, mask_parameters
from uqseg.errors import InputError
from uqseg.nn import build_model
from uqseg.nn.base import AleatoricModel
from uqseg.nn.config import ModelConfig
from uqseg.training.subensemble_fit import (
    SUBENSEMBLE_FILE,
    MaskFit,
    SubensembleConfig,
    fit_masks,
    kept_fractions,
    load_subensemble_method,
    objective,
    train_subensemble,
)
from uqseg.uncertainty import decompose


def _discs(n: int = 16, size: int = 16, seed: int = 0) -> Split:
    """Noisy discs whose radius three annotators disagree on; the disc is left of centre (not symmetric)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    images = np.zeros((n, 1, size, size), np.float32)
    annotations = np.zeros((n, 3, size, size), np.int64)
    for i in range(n):
        cy, cx = rng.uniform(size * 0.3, size * 0.7), rng.uniform(size * 0.25, size * 0.45)
        r = rng.uniform(size * 0.15, size * 0.3)
        dist = np.hypot(yy - cy, xx - cx)
        images[i, 0] = (dist < r) + rng.normal(0, 0.3, (size, size))
        for k in range(3):
            annotations[i, k] = dist < r * (0.8 + 0.2 * k)
    return Split("train", images, annotations)


def _train(model: AleatoricModel, split: Split, steps: int) -> AleatoricModel:
    """A few Adam steps of the model's own loss on the whole split."""
    batch = {"image": torch.from_numpy(np.asarray(split.images)),
             "annotations": torch.from_numpy(np.asarray(split.annotations))}
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    torch.manual_seed(0)
    for _ in range(steps):
        optimizer.zero_grad()
        model.loss(batch).backward()
        optimizer.step()
    return model.eval()


# The net has two layers, so the class-logit layer weighs half the size penalty: target 0.5 lets it keep one of its
# two channels (at 0.2 the tiny net drops both, and every sub-model says 1/2 everywhere). The authors' unscaled loss:
# relative to its own loss (the default) the task term keeps every channel of this net.
CFG = SubensembleConfig(k=3, epochs=10, target=0.5, loss_scale="none")


@pytest.fixture(scope="module")
def split() -> Split:
    return _discs(n=32)


@pytest.fixture(scope="module")
def base(split: Split) -> NoisyNet:
    return _train(NoisyNet(width=8, noise=0.5), split, steps=40)


@pytest.fixture(scope="module")
def fit(split: Split, base: NoisyNet) -> MaskFit:
    before = {k: v.clone() for k, v in base.state_dict().items()}
    fitted = fit_masks(base, split, CFG, batch_size=4, seed=0)
    assert all(torch.equal(before[k], v) for k, v in base.state_dict().items())
    return fitted


def _mean_objective(model: nn.Module, batch: dict, cfg: SubensembleConfig, reference: float) -> float:
    total = 0.0
    for seed in range(8):
        torch.manual_seed(seed)
        total += sum(objective(model, batch, cfg, 1.0, reference=reference))
    return total / 8


def test_mask_training_lowers_the_objective_and_trains_only_the_logits(split: Split, base: NoisyNet,
                                                                      fit: MaskFit) -> None:
    batch = {"image": torch.from_numpy(np.asarray(split.images[:8])),
             "annotations": torch.from_numpy(np.asarray(split.annotations[:8]))}
    start = attach_masks(base, 3, normalize=CFG.normalize)
    ref = fit.reference_loss
    assert _mean_objective(fit.model, batch, CFG, ref) < _mean_objective(start, batch, CFG, ref) - 0.1
    assert fit.task_loss[-1] + fit.regulariser[-1] < fit.task_loss[0] + fit.regulariser[0]
    trained = fit.model.state_dict()
    assert all(torch.equal(trained[k], v) for k, v in base.state_dict().items())
    logits = {id(p) for p in mask_parameters(fit.model)}
    assert {id(p) for p in fit.model.parameters() if p.requires_grad} == logits
    assert fit.masks.k == 3 and set(fit.masks.outputs) == {"conv1", "conv2"}


def test_sub_models_differ_from_each_other_and_from_the_base(split: Split, base: NoisyNet, fit: MaskFit) -> None:
    kept = torch.stack([fit.masks.outputs["conv1"][k] for k in range(3)]).float()
    assert 0 < kept.mean() < 1
    method = SubEnsemble(base, fit.masks)
    images = torch.from_numpy(np.asarray(split.images[:4]))
    base.noise = 0.0
    try:
        means = method.sample_instances(images, 1, [0, 1, 2], seed=0)[:, 0]
        plain = base.sample(images, 1)[0]
    finally:
        base.noise = 0.5
    for k in range(3):
        assert not torch.allclose(means[k], plain, atol=1e-3)
        for j in range(k):
            assert not torch.allclose(means[k], means[j], atol=1e-3)


def _eu_au_ratio(method: object, images: torch.Tensor, n: int) -> float:
    probs = method.sample_instances(images, n, list(range(method.num_instances)), seed=0)
    maps = decompose(probs.detach().double(), nested=True)
    return float(maps.eu.mean() / maps.au.mean())


def test_eu_au_ratio_of_a_sub_ensemble_and_of_mc_dropout_on_one_ssn(split: Split) -> None:
    cfg = ModelConfig(in_channels=1, image_size=16, base_width=8, channel_mult=(1, 2), num_res_blocks=1,
                      attention_levels=(), group_norm_groups=4, dropout=0.2)
    torch.manual_seed(0)
    ssn = _train(build_model("ssn", cfg).train(), split, steps=10)
    images = torch.from_numpy(np.asarray(split.images[:4]))
    with torch.no_grad():
        dropout = _eu_au_ratio(MCDropout(ssn, num_instances=4, seed=0), images, 4)
    fit = fit_masks(ssn, split, SubensembleConfig(k=3, epochs=1, init_keep=None), batch_size=8, seed=0)
    assert any(not torch.equal(m[0], m[1]) for m in fit.masks.outputs.values())
    with torch.no_grad():
        subensemble = _eu_au_ratio(SubEnsemble(ssn, fit.masks), images, 4)
    assert np.isfinite(dropout) and dropout > 0
    assert np.isfinite(subensemble) and subensemble > 0


def test_stored_sub_ensemble_is_found_again_and_gives_the_same_instances(tmp_path: Path, split: Split,
                                                                       base: NoisyNet) -> None:
    cfg = SubensembleConfig(k=2, epochs=1, size_weight=0.0)
    out = train_subensemble(base, split, cfg, tmp_path / "run", batch_size=8, seed=0, record={"key": "abc"})
    record = json.loads((out / "run.json").read_text())
    assert record["key"] == "abc" and record["subensemble"]["k"] == 2 and len(record["task_loss"]) == 1
    stamp = (out / SUBENSEMBLE_FILE).stat().st_mtime_ns
    assert train_subensemble(base, split, cfg, out, batch_size=8, seed=0) == out
    assert (out / SUBENSEMBLE_FILE).stat().st_mtime_ns == stamp  # complete: not refitted
    fresh = NoisyNet(width=8, noise=0.5, seed=7)
    method = load_subensemble_method(fresh, out)
    assert all(torch.equal(p, q) for p, q in zip(fresh.parameters(), base.parameters(), strict=True))
    refit = fit_masks(base, split, cfg, batch_size=8, seed=0)
    assert all(torch.equal(method.masks.outputs[k], v) for k, v in refit.masks.outputs.items())
    images = torch.from_numpy(np.asarray(split.images[:2]))
    torch.testing.assert_close(method.sample_instances(images, 2, [0, 1], seed=3),
                               SubEnsemble(base, refit.masks).sample_instances(images, 2, [0, 1], seed=3))
    with pytest.raises(InputError, match="does not fit"):
        load_subensemble_method(NoisyNet(width=4), out)


def test_kept_fractions_by_hand_and_a_warning_for_a_sub_model_that_keeps_nothing(tmp_path: Path, split: Split,
                                                                                base: NoisyNet) -> None:
    masks = SubensembleMasks({"a": torch.tensor([[1, 0, 0, 1], [0, 0, 0, 0]]).bool(),
                              "b": torch.tensor([[1, 1], [0, 1]]).bool()}, {})
    assert kept_fractions(masks) == pytest.approx([4 / 6, 1 / 6])
    starved = SubensembleConfig(k=2, epochs=1, target=0.01, size_weight=100.0, init_keep=None, hard_masks="sign")
    with pytest.warns(RuntimeWarning, match="keeps no output channel"):
        out = train_subensemble(base, split, starved, tmp_path, batch_size=8, seed=0)
    assert json.loads((out / "run.json").read_text())["kept_output_fraction"] == [0.0, 0.0]
