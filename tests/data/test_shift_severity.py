"""Shift severity of the synthetic datasets: options, defaults, cache keys, presets, Chákṣu devices and the proxy."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from uqseg.data import get_dataset
from uqseg.data.shifts import apply_shift
from uqseg.data.synthetic import chaksu, lidc
from uqseg.data.synthetic.visibility import band_energy, shift_visibility, spread, statistic_aurocs
from uqseg.errors import ConfigError, InputError
from uqseg.experiments.presets import resolve_config

SMALL = {"image_size": 32, "n_train": 2, "n_val": 2, "n_test": 6}


def test_lidc_defaults_and_one_changed_severity() -> None:
    default = get_dataset("synthetic-lidc", **SMALL)
    changed = get_dataset("synthetic-lidc", **SMALL, shift_severity={"noise": 1.0})
    test = default.split("test").images
    for shift, severity in lidc.DEFAULT_SHIFT_SEVERITY.items():
        split = f"ood-{shift}"
        assert default.split(split).meta["severity"] == severity
        expected = apply_shift(test, shift, seed=lidc.OOD_SEED, severity=severity)
        np.testing.assert_array_equal(default.split(split).images, expected)
        same = changed.split(split).images.tobytes() == default.split(split).images.tobytes()
        assert same == (shift != "noise")
    assert changed.split("ood-noise").meta["severity"] == 1.0
    assert changed.split("test").meta["shift_severity"]["noise"] == 1.0
    np.testing.assert_array_equal(changed.split("ood-noise").images, apply_shift(test, "noise", seed=7))


@pytest.mark.parametrize(("given", "message"), [
    ({"rain": 1.0}, r"unknown shifts \['rain'\]"),
    ({"noise": 0.0}, r"shift_severity.noise: severity must lie in"),
    ({"blur": "strong"}, r"shift_severity.blur: severity must be a number"),
    ([1.0, 2.0], "shift_severity must be a mapping"),
])
def test_bad_shift_severity_is_refused(given: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        get_dataset("synthetic-lidc", **SMALL, shift_severity=given)


def test_changed_severity_is_a_new_cache_file(tmp_path) -> None:
    get_dataset("synthetic-lidc", **SMALL, cache_dir=tmp_path)
    get_dataset("synthetic-lidc", **SMALL, cache_dir=tmp_path, shift_severity={"jpeg": 1.0})
    get_dataset("synthetic-lidc", **SMALL, cache_dir=tmp_path, shift_severity={"jpeg": 1})
    assert len(list(tmp_path.glob("synthetic-lidc-*.npz"))) == 2


def test_severity_is_set_through_a_preset_override() -> None:
    cfg = resolve_config("tiny", overrides=["datasets.synthetic-lidc.options.shift_severity.noise=1.5",
                                            "datasets.synthetic-chaksu.options.shift_severity.device=0.5"])
    lidc_options = {**cfg.datasets["synthetic-lidc"].options, **SMALL}
    assert lidc_options["shift_severity"] == {"noise": 1.5}
    assert get_dataset("synthetic-lidc", **lidc_options).split("ood-noise").meta["severity"] == 1.5
    chaksu_options = {**cfg.datasets["synthetic-chaksu"].options, **SMALL}
    assert get_dataset("synthetic-chaksu", **chaksu_options).split("ood").meta["severity"] == 0.5


def test_chaksu_devices_interpolate_between_a_and_the_ood_device() -> None:
    a = chaksu.DEVICES["A"]
    for name in ("B", "C"):
        target = chaksu.DEVICES[name]
        assert chaksu.device_at(name, 1.0) == target
        assert chaksu.device_at(name, 0.0) == a
        half = chaksu.device_at(name, 0.5)
        assert half.noise == pytest.approx((a.noise + target.noise) / 2)
        assert half.zoom == pytest.approx(np.sqrt(a.zoom * target.zoom))
        assert half.gain[2] == pytest.approx(np.sqrt(a.gain[2] * target.gain[2]))
        far = chaksu.device_at(name, 3.0)
        assert far.aperture_radius > 0 and min(far.gain) > 0 and far.zoom > 0


def test_chaksu_ood_moves_away_from_device_a_with_severity() -> None:
    options = {**SMALL, "n_test": 8}
    test = get_dataset("synthetic-chaksu", **options).split("test").images
    distances = []
    for severity in (0.25, 1.0, 2.0):
        data = get_dataset("synthetic-chaksu", **options, shift_severity={"device": severity})
        assert data.split("ood").meta["severity"] == severity
        distances.append(np.abs(data.split("ood").images.mean(axis=(2, 3)) - test.mean(axis=(2, 3))).mean())
    default = get_dataset("synthetic-chaksu", **options).split("ood").images
    one = get_dataset("synthetic-chaksu", **options, shift_severity={"device": 1.0}).split("ood").images
    assert default.tobytes() == one.tobytes()
    assert distances[0] < distances[1] < distances[2]


def test_visibility_matches_a_brute_force_auroc_and_is_two_sided() -> None:
    rng = np.random.default_rng(0)
    reference = rng.normal(0.0, 1.0, (30, 1, 16, 16))
    shifted = rng.normal(0.0, 1.0, (25, 1, 16, 16)) * rng.uniform(0.5, 2.0, (25, 1, 1, 1))
    shifted[:, :, :8] += 1.0
    aurocs = statistic_aurocs(reference, shifted)
    for name, statistic in (("band_energy", band_energy), ("spread", spread)):
        a, b = statistic(reference), statistic(shifted)
        pairs = (b[:, None] > a[None, :]).mean() + 0.5 * (b[:, None] == a[None, :]).mean()
        assert aurocs[name] == pytest.approx(max(pairs, 1 - pairs))
        labels = np.r_[np.zeros(30), np.ones(25)]
        sklearn = roc_auc_score(labels, np.r_[a, b])
        assert aurocs[name] == pytest.approx(max(sklearn, 1 - sklearn))
    assert shift_visibility(reference, shifted) == max(aurocs.values())
    assert shift_visibility(reference, reference) == pytest.approx(0.5)
    with pytest.raises(InputError, match="one shape"):
        shift_visibility(reference, shifted[:, :, :8])


def test_spread_and_band_energy_by_hand() -> None:
    image = np.zeros((1, 1, 8, 8))
    image[..., :4] = 1.0
    assert spread(image)[0] == pytest.approx(0.5)
    flat = np.ones((1, 1, 8, 8)) + np.arange(8) * 1e-3
    assert band_energy(2.0 * image)[0] == pytest.approx(band_energy(image)[0])
    assert band_energy(flat)[0] < band_energy(image)[0]
