"""Training-run planner (docs/method.md §6 shared runs): counts, sharing, seeds, keys and errors."""

from __future__ import annotations

import itertools

import pytest
from training_doubles import TinyConfig

from uqseg.errors import ConfigError
from uqseg.training.config import TrainConfig, make_train_config
from uqseg.training.plan import (
    MC_DROPOUT_P,
    member_seed,
    plan_training_runs,
    runs_for_combination,
)
from uqseg.vocabulary import AU_MODELS, EU_METHODS

GRID = [(au, eu) for au, eu in itertools.product(AU_MODELS, EU_METHODS) if (au, eu) != ("softmax", "none")]


def options(**over: object) -> dict:
    base = {
        "dataset": "synthetic-lidc",
        "dataset_options": {"image_size": 32, "n_train": 8},
        "seed": 3,
        "model": TinyConfig(),
        "train": TrainConfig(epochs=2),
    }
    return {**base, **over}


def test_full_grid_count() -> None:
    assert len(GRID) == 19
    runs = plan_training_runs(GRID, **options())
    assert len(runs) == 4 + 4 + 4 * 4
    assert len({r.key for r in runs}) == len(runs)
    by_family = {f: sum(r.family == f for r in runs) for f in ("shared", "dropout", "ensemble")}
    assert by_family == {"shared": 4, "dropout": 4, "ensemble": 16}
    assert len(plan_training_runs(GRID, **options(), ensemble_size=3)) == 4 + 4 + 4 * 2


def test_sharing_rules() -> None:
    opts = options()
    shared = {eu: runs_for_combination("ssn", eu, **opts) for eu in ("none", "swag", "swag_d")}
    assert all(len(r) == 1 and r[0].family == "shared" for r in shared.values())
    assert len({r[0].key for r in shared.values()}) == 1
    ensemble = runs_for_combination("ssn", "ensemble", **opts)
    assert [r.member for r in ensemble] == [1, 2, 3, 4, 5]
    assert ensemble[0].key == shared["swag"][0].key
    assert [r.family for r in ensemble[1:]] == ["ensemble"] * 4
    assert len({r.seed for r in ensemble}) == 5 and ensemble[0].seed == 3
    (dropout,) = runs_for_combination("ssn", "dropout", **opts)
    assert dropout.family == "dropout" and dropout.model.dropout == MC_DROPOUT_P
    assert all(r.model.dropout == 0.0 for r in ensemble)
    assert dropout.key != ensemble[0].key
    assert all(r.train.seed == r.seed for r in [*ensemble, dropout])


def test_stable_order_and_dedup() -> None:
    combos = [("ssn", "swag"), ("ssn", "none"), ("ssn", "ensemble"), ("softmax", "dropout")]
    runs = plan_training_runs(combos, **options())
    assert [(r.au, r.family, r.member) for r in runs] == [("ssn", "shared", 1)] + [
        ("ssn", "ensemble", m) for m in range(2, 6)
    ] + [("softmax", "dropout", 1)]


def test_member_seeds_deterministic_and_distinct() -> None:
    assert member_seed(7, 1) == 7
    assert member_seed(7, 3) == member_seed(7, 3)
    seeds = {member_seed(s, m) for s in range(20) for m in range(2, 11)}
    assert len(seeds) == 20 * 9
    assert all(0 <= s < 2**31 for s in seeds)
    with pytest.raises(ConfigError):
        member_seed(0, 0)


def test_key_canonical_and_sensitive() -> None:
    (a,) = runs_for_combination("ssn", "swag", **options())
    (b,) = runs_for_combination(
        "ssn", "swag", **options(dataset_options={"n_train": 8, "image_size": 32, "cache_dir": "/elsewhere"})
    )
    (c,) = runs_for_combination("ssn", "swag", **options(train=TrainConfig(epochs=2, accelerator="cpu", devices=2)))
    assert a.key == b.key == c.key and len(a.key) == 16
    assert a.to_dict()["dataset_options"] == {"image_size": 32, "n_train": 8}
    changed = [
        options(train=TrainConfig(epochs=3)),
        options(seed=4),
        options(model=TinyConfig(width=16)),
        options(dataset_options={"image_size": 64, "n_train": 8}),
        options(dataset="lidc"),
    ]
    keys = {runs_for_combination("ssn", "swag", **o)[0].key for o in changed}
    assert a.key not in keys and len(keys) == len(changed)
    assert runs_for_combination("prob_unet", "swag", **options())[0].key != a.key
    assert hash(a) == hash(b)


@pytest.mark.parametrize(
    ("au", "eu", "fragment"),
    [("unet", "swag", "unet"), ("ssn", "laplace", "laplace"), ("softmax", "none", r"softmax\+none")],
)
def test_invalid_combinations(au: str, eu: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        runs_for_combination(au, eu, **options())
    with pytest.raises(ConfigError, match=fragment):
        plan_training_runs([("ssn", "swag"), (au, eu)], **options())


def test_train_config_validation() -> None:
    with pytest.raises(ConfigError, match="epochs"):
        make_train_config(epochs=0)
    with pytest.raises(ConfigError, match="bogus"):
        make_train_config(epochs=1, bogus=1)
    with pytest.raises(ConfigError, match="limit_train_batches"):
        make_train_config(epochs=1, limit_train_batches=1.5)
    cfg = make_train_config(epochs=1000)
    assert (cfg.lr, cfg.weight_decay, cfg.batch_size, cfg.grad_clip, cfg.ema_decay) == (1e-4, 0.0, 32, 0.5, 0.999)
    assert cfg.swag_start_epoch() == 970
    assert make_train_config(epochs=5).swag_start_epoch() == 0
