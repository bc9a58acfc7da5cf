"""The shared names (uqseg.vocabulary): enums format as their values, the combinations and their order, the EU
instance rule, the results schema check, and every name having its registration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from uqseg import vocabulary as v
from uqseg.errors import ConfigError, InputError


def test_enums_are_plain_strings_in_tables_and_names() -> None:
    assert f"{v.AUModel.PROB_UNET}" == "prob_unet" == str(v.AUModel.PROB_UNET) == v.AUModel.PROB_UNET
    assert v.AU_MODELS == ("softmax", "ssn", "prob_unet", "diffusion")
    assert v.EU_METHODS == ("none", "dropout", "swag", "swag_d", "ensemble")
    assert v.TASKS == ("OODD", "AMB", "CAL") and v.MEASURES == ("TU", "AU", "EU")
    assert v.STRATEGIES == ("image", "patch", "threshold", "area", "border")
    assert all(type(name) is str for name in (*v.AU_MODELS, *v.EU_METHODS, *v.TASKS, *v.STRATEGIES))


def test_combinations_leave_out_softmax_without_eu_in_table_order() -> None:
    combos = v.combos("paper")
    assert len(combos) == 4 * 5 - 1 and v.INVALID not in combos
    assert combos[:4] == [("softmax", "dropout"), ("softmax", "swag"), ("softmax", "swag_d"), ("softmax", "ensemble")]
    assert combos[4] == ("ssn", "none") and v.combo_names("paper")[-1] == "diffusion+ensemble"
    assert sorted(combos, key=lambda c: v.order_key(*c)) == combos
    every = v.combos()
    assert len(every) == 5 * 6 - 1 and set(combos) < set(every) and ("tta", "none") in every
    assert ("softmax", "subensemble") in every and v.combo_names()[-1] == "tta+subensemble"
    assert sorted(every, key=lambda c: v.order_key(*c)) == every
    with pytest.raises(ConfigError, match="unknown combination grid"):
        v.combos("mine")
    assert v.order_key("new", "none") > v.order_key("diffusion", "ensemble")
    with pytest.raises(ConfigError, match="softmax\\+none"):
        v.check_combination("softmax", "none")
    with pytest.raises(ConfigError, match="unknown AU model 'unet'"):
        v.check_combination("unet", "none")
    with pytest.raises(ConfigError, match="unknown EU method 'bnn'; known: none, dropout"):
        v.check_eu("bnn")


@pytest.mark.parametrize(("eu", "expected"), [("none", 1), ("ensemble", 5), ("dropout", 10), ("swag", 10),
                                              ("swag_d", 10)])
def test_instance_count(eu: str, expected: int) -> None:
    assert v.instance_count(eu, instances=10, ensemble_size=5) == expected


def test_labels_and_split_groups() -> None:
    assert [v.au_label(a) for a in v.AU_MODELS] == ["Softmax", "SSN", "Prob. UNet", "Diffusion"]
    assert v.eu_label("swag_d") == "SWAG-D" and v.eu_label("other") == "other"
    assert [v.split_group(s) for s in ("test", "ood-blur", "ood", "val", "train")] == ["ID", "OOD", "OOD", None, None]


def test_results_check_orders_types_and_fills_intervals() -> None:
    table = pd.DataFrame({"status": ["ok"], "value": ["0.5"], "aggregation": ["none"], "metric": ["ncc"],
                          "measure": ["AU"], "task": ["AMB"], "split": ["test"], "eu": ["swag"], "au": ["ssn"],
                          "seed": [3.0], "dataset": ["d"], "extra": [1]})
    out = v.check_results(table)
    assert list(out.columns) == list(v.RESULT_COLUMNS)
    assert out.seed.dtype == np.int64 and out.value.dtype == np.float64 and np.isnan(out.ci_low[0])
    with pytest.raises(InputError, match="lack columns \\['seed'"):
        v.check_results(table.drop(columns="seed"))
    with pytest.raises(InputError, match="numeric"):
        v.check_results(table.assign(value="high"))
    with pytest.raises(InputError, match="DataFrame"):
        v.check_results({"dataset": ["d"]})  # type: ignore[arg-type]


def test_every_name_is_registered() -> None:
    """A name in the vocabulary has its model or method: nn.MODELS holds every AU model, and build_method accepts
    every EU method (it fails on the missing model, not on the name)."""
    from uqseg.epistemic import build_method
    from uqseg.nn import MODELS

    assert set(v.AU_MODELS) <= set(MODELS)
    for eu in v.EU_METHODS:
        with pytest.raises(ConfigError, match="needs at least one trained model"):
            build_method(eu, [])


def test_parse_combination_names_the_bad_text() -> None:
    assert v.parse_combination("ssn+swag") == ("ssn", "swag")
    with pytest.raises(ConfigError, match="'ssnswag' is not written AU\\+EU"):
        v.parse_combination("ssnswag")
    with pytest.raises(ConfigError, match="'softmax\\+none': softmax\\+none is not a valid combination"):
        v.parse_combination("softmax+none")
