"""AU models of one's own (docs/custom_model.md): registration from Python, through a ``uqseg.models`` entry point
and through ``UQSEG_PLUGINS``; what a registered name is valid for; the messages for unknown names."""

from __future__ import annotations

import importlib.metadata
import multiprocessing
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

import pytest
import torch
from ep_models import Flat, build_in_child

from cli_runner import run_uqseg
from uqseg import nn as unn
from uqseg.errors import ConfigError
from uqseg.experiments.config import validate_config
from uqseg.nn import ModelConfig, build_model, register_model
from uqseg.report.figures.style import colour
from uqseg.vocabulary import (
    ENTRY_POINT_GROUP,
    KNOWN_AU_MODELS,
    PLUGINS_ENV,
    au_label,
    check_au,
    check_combination,
    combo_names,
    known_au_models,
    order_key,
    unregister_au_model,
)

NAMES = ("flat", "flat2", "epflat", "selfreg", "broken", "notmodel", "envonly")
CFG = ModelConfig(in_channels=1, num_classes=2, image_size=4, base_width=8, channel_mult=(1, 2), group_norm_groups=8)


@pytest.fixture(autouse=True)
def clean_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts and ends with only the built-in models, and no UQSEG_PLUGINS."""
    monkeypatch.setenv(PLUGINS_ENV, "")
    yield
    for name in NAMES:
        unregister_au_model(name)
        unn.MODELS.pop(name, None)


def fake_entry_points(monkeypatch: pytest.MonkeyPatch, **targets: str) -> None:
    """Make ``importlib.metadata.entry_points(group=uqseg.models)`` list ``name = target`` for each of ``targets``."""
    eps = [importlib.metadata.EntryPoint(name, value, ENTRY_POINT_GROUP) for name, value in targets.items()]

    def entry_points(**params: str) -> list[importlib.metadata.EntryPoint]:
        return eps if params.get("group") == ENTRY_POINT_GROUP else []

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)


def test_python_registration_joins_every_list_after_the_built_in_models() -> None:
    """The built-in names, their order and the 29/19 grids are untouched; the new model follows with every EU method
    (including none: it has AU samples), sorts after the built-in ones and shows under its label."""
    before_all, before_paper = combo_names(), combo_names("paper")
    register_model("flat", Flat)
    register_model("flat2", Flat, label="Second flat")
    assert known_au_models() == (*KNOWN_AU_MODELS, "flat", "flat2")
    assert combo_names()[:29] == before_all and combo_names("paper") == before_paper
    assert combo_names()[29:35] == ("flat+none", "flat+dropout", "flat+swag", "flat+swag_d", "flat+ensemble",
                                    "flat+subensemble")
    assert len(combo_names()) == 29 + 12
    assert au_label("flat") == "Flat conv" and au_label("flat2") == "Second flat" and au_label("ssn") == "SSN"
    assert order_key("tta", "none") < order_key("flat", "none") < order_key("flat2", "none") < order_key("zzz", "none")
    check_combination("flat", "dropout")
    assert len({colour("flat"), colour("flat2"), colour("ssn"), colour("not_registered")}) == 4
    model = build_model("flat", CFG)
    assert isinstance(model, Flat) and model.sample(torch.zeros(2, 1, 4, 4), 3).shape == (3, 2, 2, 4, 4)


def test_registered_name_is_valid_in_a_study_config() -> None:
    """``combos``, ``combos: all`` and per-AU dataset overrides accept the name."""
    register_model("flat", Flat)
    base = {"datasets": {"synthetic-lidc": {"au": {"flat": {"train": {"epochs": 3}}}}}, "train": {"epochs": 1}}
    cfg = validate_config({**base, "combos": ["flat+ensemble", "flat+dropout", "ssn+none"]})
    assert cfg.combinations() == [("flat", "ensemble"), ("flat", "dropout"), ("ssn", "none")]
    assert "flat+subensemble" in validate_config({**base, "combos": "all"}).combos


def test_registration_refusals() -> None:
    """A built-in name, a badly formed name, a factory that is not callable, and one that builds no AU model."""
    with pytest.raises(ConfigError, match="'ssn' is built into uqseg"):
        register_model("ssn", Flat)
    with pytest.raises(ConfigError, match="must be lower-case letters"):
        register_model("My+Model", Flat)
    with pytest.raises(ConfigError, match="is not callable"):
        register_model("flat", "Flat")  # type: ignore[arg-type]
    from ep_models import not_a_model

    register_model("notmodel", not_a_model)
    with pytest.raises(ConfigError, match="'notmodel': its factory returned a Identity, not an AleatoricModel"):
        build_model("notmodel", CFG)


def test_unknown_names_say_how_to_add_a_model() -> None:
    """check_au, build_model and a study config name the unknown model, list the known ones and point to the docs."""
    with pytest.raises(ConfigError, match=r"unknown AU model 'nope'; known: softmax, ssn, prob_unet, diffusion, tta "
                                          r"\(a model of your own is registered with uqseg.nn.register_model"):
        check_au("nope")
    with pytest.raises(ConfigError, match=r"unknown AU model 'nope'.*docs/custom_model\.md"):
        build_model("nope", CFG)
    with pytest.raises(ConfigError, match=r"combos: 'nope\+dropout': unknown AU model 'nope'"):
        validate_config({"datasets": {"synthetic-lidc": {}}, "train": {"epochs": 1}, "combos": ["nope+dropout"]})
    with pytest.raises(ConfigError, match=r"datasets.synthetic-lidc.au: .*unknown AU models \['nope'\]"):
        validate_config({"datasets": {"synthetic-lidc": {"au": {"nope": {}}}}, "train": {"epochs": 1},
                         "combos": ["ssn+none"]})
    assert au_label("nope") == "nope"


def test_entry_point_naming_a_factory_is_loaded_when_first_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing is loaded up front; the first check of the name loads the factory, with the factory's label."""
    fake_entry_points(monkeypatch, epflat="ep_models:Flat")
    assert "epflat" not in known_au_models()
    assert check_au("epflat") == "epflat" and au_label("epflat") == "Flat conv"
    assert combo_names()[-6:][0] == "epflat+none"
    assert isinstance(build_model("epflat", CFG), Flat)


def test_entry_point_naming_a_module_that_registers_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """build_model on a never-checked name loads the entry point; the module's own registration (label) wins."""
    fake_entry_points(monkeypatch, selfreg="ep_registering")
    assert isinstance(build_model("selfreg", CFG), Flat)
    assert au_label("selfreg") == "Self-registered"


def test_entry_point_that_fails_to_load_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_entry_points(monkeypatch, broken="no_such_module_here:Model")
    with pytest.raises(ConfigError) as err:
        check_au("broken")
    assert str(err.value) == ("entry point 'broken' of group uqseg.models (no_such_module_here:Model) cannot be "
                              "loaded: ModuleNotFoundError: No module named 'no_such_module_here'")


def test_plugins_config_key_imports_the_module_and_names_it_for_step_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """``plugins: [ep_registering]`` registers ``selfreg`` before the combinations are checked and lists the module in
    UQSEG_PLUGINS; a module that cannot be imported is a ConfigError naming it."""
    monkeypatch.delitem(sys.modules, "ep_registering", raising=False)
    cfg = validate_config({"plugins": ["ep_registering"], "datasets": {"synthetic-lidc": {}}, "train": {"epochs": 1},
                           "combos": "selfreg+ensemble"})
    assert cfg.combos == ["selfreg+ensemble"] and os.environ[PLUGINS_ENV] == "ep_registering"
    with pytest.raises(ConfigError, match="plugins: plugin module 'not_a_plugin_module' cannot be imported: "
                                          "ModuleNotFoundError"):
        validate_config({"plugins": ["not_a_plugin_module"], "datasets": {"synthetic-lidc": {}},
                         "train": {"epochs": 1}})


def test_a_spawned_step_process_finds_the_model_through_uqseg_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh process (the local executor's workers are spawned) knows nothing registered in its parent; with
    UQSEG_PLUGINS naming the module it imports it on the first unknown name."""
    monkeypatch.setenv(PLUGINS_ENV, "ep_registering")
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        assert pool.submit(build_in_child, "selfreg").result(timeout=120) == ("Flat", [2, 1, 2, 4, 4])


def test_unknown_name_on_the_command_line_is_one_line(tmp_path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_uqseg(monkeypatch, capsys, "benchmark", "--preset", "tiny", "--combos", "nope+dropout",
                             "--out", str(tmp_path / "run"))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "'nope+dropout': unknown AU model 'nope'; known: softmax, ssn, prob_unet, diffusion, tta" in err
    assert "docs/custom_model.md" in err and not (tmp_path / "run").exists()
