"""``uqseg models`` and the parameter counts behind it (docs/architecture.md "Model sizes")."""

from __future__ import annotations

import pytest
import torch
from nn_helpers import tiny_config

from cli_runner import run_uqseg
from uqseg.errors import ConfigError
from uqseg.nn import MODELS, build_model
from uqseg.nn.sizes import make_config, parameter_counts


def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    return run_uqseg(monkeypatch, capsys, "models", *args)


def rows(out: str) -> dict[str, list[str]]:
    split = [line.split() for line in out.splitlines()]
    return {words[0]: words[1:] for words in split if words and words[0] in MODELS}


def test_paper_config_table(monkeypatch, capsys):
    code, out, _ = run_cli(monkeypatch, capsys)
    assert code == 0
    table = rows(out)
    assert set(table) == set(MODELS)
    diffusion = int(table["diffusion"][0].replace(",", ""))
    assert abs(diffusion / 15.81e6 - 1) < 0.003
    paper = {"softmax": "15.78", "ssn": "15.80", "prob_unet": "16.89", "diffusion": "15.81", "tta": "15.78"}
    assert {name: values[2] for name, values in table.items()} == paper
    assert "unused time-embedding" in out


def test_custom_config_counts_match_real_models(monkeypatch, capsys):
    code, out, _ = run_cli(monkeypatch, capsys, "--image-size", "16", "--base-width", "8", "--channel-mult", "1,2",
                           "--res-blocks", "1", "--heads", "2", "--classes", "3", "--in-channels", "1",
                           "--attention-levels", "-1")
    assert code == 0 and "paper" not in out
    cfg = tiny_config(num_classes=3, in_channels=1, attention_levels=(-1,))
    for name, values in rows(out).items():
        real = build_model(name, cfg)  # a real CPU build, counted independently of the meta-device count
        assert int(values[0].replace(",", "")) == sum(p.numel() for p in real.parameters() if p.requires_grad)


def test_time_embedding_difference_by_hand():
    # diffusion − softmax = time MLP (32·128+128 + 128·128+128 = 20,736) + one Linear(128, out) per ResBlock
    # (out channels 2·(32+64+128+256) + 2·256 + 3·(32+64+128+256) = 2,912 → 129·2,912 = 375,648)
    # + the input conv's 2 extra x_t channels (2·32·9 = 576)
    counts = parameter_counts(make_config({}))
    assert counts["diffusion"] - counts["softmax"] == 20_736 + 375_648 + 576


def test_appendix_variant_is_smaller():
    code = parameter_counts(make_config({}))
    appendix = parameter_counts(make_config({"variant": "appendix"}))
    assert all(appendix[name] < code[name] for name in MODELS)


@pytest.mark.parametrize("args", [("--channel-mult", "1,x"), ("--heads", "3"), ("--variant", "other"),
                                  ("--image-size", "100")])
def test_bad_options_exit_2_with_one_line(monkeypatch, capsys, args):
    code, out, err = run_cli(monkeypatch, capsys, *args)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1


def test_helpers_raise_config_error():
    with pytest.raises(ConfigError, match="channel_mult"):
        make_config({"channel_mult": ()})
    with torch.device("meta"):
        assert build_model("softmax", make_config({})).num_parameters() == parameter_counts(make_config({}))["softmax"]
