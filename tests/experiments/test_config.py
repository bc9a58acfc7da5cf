"""Presets and overrides: every shipped preset validates; bad keys, types, combinations and datasets fail
at once with a message naming the key, before any work starts; the CLI prints one line and exits 2."""

from __future__ import annotations

import pytest
from helpers import GRID_DATASETS, uqseg

from uqseg.errors import ConfigError
from uqseg.experiments.config import VALID_COMBOS, model_config, train_config
from uqseg.experiments.presets import PRESETS, apply_overrides, parse_value, resolve_config
from uqseg.vocabulary import combo_names


def test_valid_combos_are_the_29_and_paper_selects_the_19() -> None:
    assert len(VALID_COMBOS) == 29 and "softmax+none" not in VALID_COMBOS and "tta+subensemble" in VALID_COMBOS
    paper = resolve_config("quick", overrides=["combos=paper"])
    assert len(paper.combos) == 19 and not any("tta" in c or "subensemble" in c for c in paper.combos)


@pytest.mark.parametrize("preset", PRESETS)
def test_shipped_presets_validate(preset: str) -> None:
    cfg = resolve_config(preset, datasets=None if preset != "paper" else ["double-lidc"])
    assert cfg.name == preset
    if preset == "standard":  # the paper's 19, to fit its hour; the others run all 29 combinations
        assert cfg.combos == list(combo_names("paper")) and len(cfg.combos) == 19
    else:
        assert cfg.combos == list(VALID_COMBOS)


def test_cpu_presets_run_both_synthetic_datasets() -> None:
    for preset in ("quick", "standard", "tiny"):
        from uqseg.experiments.presets import load_preset

        assert set(load_preset(preset)[1]["datasets"]) == {"synthetic-lidc", "synthetic-chaksu"}


def test_paper_preset_follows_spec() -> None:
    """docs/method.md §4 network, §6 M = 10 / ensemble 5 / SWAG 30, §7 optimiser and epochs (LIDC 1000, Prob. UNet 500,
    Chákṣu 500), §5 Prob. UNet β per dataset."""
    from uqseg.experiments.presets import load_preset

    raw = load_preset("paper")[1]
    raw["datasets"] = {name: {**entry, "root": None} for name, entry in raw["datasets"].items()}
    from uqseg.experiments.config import validate_config

    cfg = validate_config(raw)
    assert set(cfg.datasets) == {"lidc", "chaksu"}
    lidc, lidc_pu = train_config(cfg, "lidc", "ssn"), train_config(cfg, "lidc", "prob_unet")
    assert (lidc.epochs, lidc_pu.epochs, train_config(cfg, "chaksu", "diffusion").epochs) == (1000, 500, 500)
    assert (lidc.lr, lidc.weight_decay, lidc.batch_size, lidc.grad_clip, lidc.ema_decay) == (1e-4, 0, 32, 0.5, 0.999)
    assert (lidc.swag_epochs, lidc.swag_max_cols) == (30, 30)
    assert model_config(cfg, "lidc", "prob_unet").prob_unet.beta == 5e-4
    assert model_config(cfg, "chaksu", "prob_unet").prob_unet.beta == 2.5e-3
    m = model_config(cfg, "lidc", "ssn")
    assert (m.base_width, m.channel_mult, m.num_res_blocks, m.image_size) == (32, (1, 2, 4, 8), 2, 128)
    inf = cfg.inference
    assert (inf.samples, inf.instances, inf.ensemble_size) == (10, 10, 5)


def test_overrides_set_nested_values() -> None:
    cfg = resolve_config("tiny", overrides=["train.epochs=3", "inference.samples=4", "model.ssn.rank=3",
                                            "datasets.synthetic-lidc.au.prob_unet.train.epochs=5"],
                         combos=["ssn+none,prob_unet+swag"], seeds=2, datasets=[",".join(GRID_DATASETS)])
    assert cfg.train.epochs == 3 and cfg.inference.samples == 4 and cfg.model.ssn.rank == 3
    assert cfg.combos == ["ssn+none", "prob_unet+swag"] and cfg.seeds == [0, 1]
    assert list(cfg.datasets) == list(GRID_DATASETS)
    assert parse_value("3e-4") == 3e-4 and parse_value("[a, b]") == ["a", "b"] and parse_value("true") is True
    assert apply_overrides({"a": {"b": 1}}, ["a.c=x"]) == {"a": {"b": 1, "c": "x"}}


def test_per_dataset_and_per_au_overrides_merge_in_order() -> None:
    cfg = resolve_config("tiny", overrides=["datasets.synthetic-lidc.train.epochs=4",
                                            "datasets.synthetic-lidc.au.ssn.train.epochs=6",
                                            "datasets.synthetic-lidc.au.ssn.model.ssn.rank=3"])
    assert train_config(cfg, "synthetic-lidc", "softmax").epochs == 4
    assert train_config(cfg, "synthetic-lidc", "ssn").epochs == 6
    assert train_config(cfg, "synthetic-chaksu", "ssn").epochs == cfg.train.epochs
    assert model_config(cfg, "synthetic-lidc", "ssn").ssn.rank == 3
    assert model_config(cfg, "synthetic-lidc", "ssn").ssn.mc_samples == cfg.model.ssn.mc_samples


BAD = [
    (["train.epochz=3"], "train.epochz"),
    (["train.epochs=many"], "train.epochs"),
    (["train.epochs=0"], "train.epochs"),
    (["model.ssn.rankk=2"], "model.ssn.rankk"),
    (["inference.samples=[1]"], "inference.samples"),
    (["nonsense=1"], "nonsense"),
    (["combos=[ssn+nonee]"], "ssn+nonee"),
    (["combos=[softmax+none]"], "softmax+none"),
    (["combos=ssn"], "combos"),
    (["datasets.synthetic-lidc.optionz={}"], "datasets.synthetic-lidc.optionz"),
    (["datasets.synthetic-lidc.train.epochz=2"], "datasets.synthetic-lidc.train.epochz"),
    (["datasets.synthetic-lidc.au.ssn.train.lr=-1"], "datasets.synthetic-lidc.au.ssn.train.lr"),
    (["datasets.synthetic-lidc.au.ssm.train.lr=1"], "ssm"),
    (["datasets.synthetic-lidc.cache_dir=../outside"], "cache_dir"),
    (["datasets.synthetic-lidc.cache_dir=/tmp/abs"], "cache_dir"),
    (["execution.executor=slurm"], "execution.executor"),
    (["seeds=[-1]"], "seeds"),
    (["train.epochs"], "train.epochs"),
]


@pytest.mark.parametrize("overrides,named", BAD)
def test_bad_override_names_the_key(overrides: list[str], named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace("+", r"\+").replace(".", r"\.")):
        resolve_config("tiny", overrides=overrides)


def test_bad_flags_name_the_problem() -> None:
    with pytest.raises(ConfigError, match=r"datasets\.no-such-data: unknown dataset"):
        resolve_config("tiny", datasets=["no-such-data"])
    with pytest.raises(ConfigError, match=r"diffusion\+swagg"):
        resolve_config("tiny", combos=["diffusion+swagg"])
    with pytest.raises(ConfigError, match="--seeds"):
        resolve_config("tiny", seeds=0)
    with pytest.raises(ConfigError, match="unknown preset 'nope'"):
        resolve_config("nope")


def test_preset_file(tmp_path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("datasets: {double-lidc: {}}\ntrain: {epochs: 1}\ncombos: [ssn+none]\n")
    cfg = resolve_config(path)
    assert cfg.name == "mine" and cfg.combos == ["ssn+none"]
    path.write_text("datasets: {double-lidc: {}}\ntrain: {epochs: 1, colour: red}\n")
    with pytest.raises(ConfigError, match=r"train\.colour"):
        resolve_config(path)
    path.write_text("- just a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        resolve_config(path)


def test_cli_fails_at_once_with_one_line(tmp_path) -> None:
    out = tmp_path / "run"
    done = uqseg(["benchmark", "--preset", "tiny", "--out", str(out), "--set", "train.epochz=2"], timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "train.epochz" in lines[0] and "Traceback" not in done.stderr
    assert not out.exists()  # nothing was started
    done = uqseg(["benchmark", "--preset", "tiny", "--out", str(out), "--combos", "ssn+foo"], timeout=120)
    assert done.returncode == 2 and "ssn+foo" in done.stderr and len(done.stderr.strip().splitlines()) == 1
