"""synthetic-lidc and synthetic-chaksu: contract, determinism, OOD splits, the exact oracle and both ambiguities."""

import numpy as np
import pytest

from uqseg.data import get_dataset
from uqseg.data.synthetic import chaksu, lidc
from uqseg.data.synthetic.options import SyntheticOptions
from uqseg.errors import ConfigError, InputError

SMALL = {"image_size": 32, "n_train": 12, "n_val": 3, "n_test": 10}
NAMES = ["synthetic-lidc", "synthetic-chaksu"]
GEOMETRY = {"synthetic-lidc": (1, 2, 4), "synthetic-chaksu": (3, 3, 5)}


@pytest.fixture(scope="module")
def small() -> dict:
    return {name: get_dataset(name, **SMALL) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("size", [16, 32, 64])
def test_shapes_and_dtypes(name: str, size: int) -> None:
    data = get_dataset(name, image_size=size, n_train=3, n_val=2, n_test=4)
    channels, classes, annotators = GEOMETRY[name]
    assert (data.info.in_channels, data.info.num_classes, data.info.num_annotators) == (channels, classes, annotators)
    assert data.info.image_size == (size, size)
    counts = {"train": 3, "val": 2, "test": 4}
    for split in data.split_names:
        part = data.split(split)
        n = counts.get(split, 4)
        assert part.images.shape == (n, channels, size, size) and part.images.dtype == np.float32
        assert part.annotations.shape == (n, annotators, size, size) and part.annotations.dtype == np.int64
        assert part.oracle.shape == (n, classes, size, size) and part.oracle.dtype == np.float32
        assert part.annotations.min() >= 0 and part.annotations.max() < classes
        np.testing.assert_allclose(part.oracle.sum(axis=1), 1.0, atol=1e-6)
        assert part.oracle.min() >= 0.0 and np.isfinite(part.images).all()
        sample = part[0]
        assert sample["image"].shape == (channels, size, size) and sample["oracle"].shape == (classes, size, size)


@pytest.mark.parametrize("name", NAMES)
def test_images_are_normalised(small: dict, name: str) -> None:
    images = np.asarray(small[name].split("train").images)
    assert abs(images.mean()) < 0.3 and 0.5 < images.std() < 1.5


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_bytes_other_seed_other_data(small: dict, name: str) -> None:
    again = get_dataset(name, **SMALL)
    other = get_dataset(name, **SMALL, seed=1)
    for split in again.split_names:
        for field in ("images", "annotations", "oracle"):
            assert getattr(again.split(split), field).tobytes() == getattr(small[name].split(split), field).tobytes()
        assert not np.array_equal(other.split(split).images, again.split(split).images)


@pytest.mark.parametrize("name", NAMES)
def test_splits_do_not_depend_on_other_splits_sizes(small: dict, name: str) -> None:
    bigger = get_dataset(name, **{**SMALL, "n_val": 7})
    np.testing.assert_array_equal(bigger.split("train").images, small[name].split("train").images)
    np.testing.assert_array_equal(bigger.split("test").oracle, small[name].split("test").oracle)


def test_lidc_ood_splits_shift_the_test_images_and_keep_annotations(small: dict) -> None:
    data = small["synthetic-lidc"]
    test = data.split("test")
    assert data.info.ood_splits == ("ood-noise", "ood-blur", "ood-contrast", "ood-jpeg")
    for split in data.info.ood_splits:
        ood = data.split(split)
        assert np.abs(np.asarray(ood.images) - test.images).mean() > 0.05
        np.testing.assert_array_equal(ood.annotations, test.annotations)
        np.testing.assert_array_equal(ood.oracle, test.oracle)


def test_chaksu_ood_is_devices_b_and_c() -> None:
    data = get_dataset("synthetic-chaksu", image_size=32, n_train=2, n_val=2, n_test=40)
    assert data.info.ood_splits == ("ood",)
    ood, test = np.asarray(data.split("ood").images), np.asarray(data.split("test").images)
    colour = {"A": test.mean(axis=(2, 3)), "B": ood[:20].mean(axis=(2, 3)), "C": ood[20:].mean(axis=(2, 3))}
    means = {device: c.mean(axis=0) for device, c in colour.items()}
    spread = max(c.std(axis=0).max() for c in colour.values())
    for first, second in (("A", "B"), ("A", "C"), ("B", "C")):
        assert np.abs(means[first] - means[second]).max() > 2 * spread / np.sqrt(20)
    assert data.split("ood").annotations.shape[0] == 40


@pytest.mark.parametrize("module", [lidc, chaksu])
def test_oracle_equals_empirical_frequencies_of_many_annotators(module) -> None:
    options = SyntheticOptions(image_size=24, n_train=2, n_val=2, n_test=5, seed=3, ambiguity=1.0)
    name = module.NAME
    scenes = module.scenes_of(options, "test")
    data = get_dataset(name, **{k: v for k, v in options.as_dict().items()})
    np.testing.assert_array_equal(scenes.oracle(), data.split("test").oracle)
    classes = data.info.num_classes
    rng = np.random.default_rng(123)
    counts = np.zeros(scenes.oracle().shape)
    total = 0
    for _ in range(8):
        drawn = scenes.annotate(rng, 500)
        counts += np.stack([(drawn == c).sum(axis=1) for c in range(classes)], axis=1)
        total += drawn.shape[1]
    frequency = counts / total
    oracle = scenes.oracle()
    bound = 5 * np.sqrt(oracle * (1 - oracle) / total) + 1e-9
    assert (np.abs(frequency - oracle) <= bound).all()
    assert np.abs(frequency - oracle).max() > 0


def test_annotations_only_where_the_oracle_allows(small: dict) -> None:
    for data in small.values():
        part = data.split("train")
        chosen = np.take_along_axis(np.asarray(part.oracle), np.asarray(part.annotations), axis=1)
        assert chosen.min() > 0


def test_lidc_has_presence_ambiguity_and_ambiguity_zero_removes_it() -> None:
    data = get_dataset("synthetic-lidc", image_size=32, n_train=2, n_val=2, n_test=60)
    test = data.split("test")
    marked = np.asarray(test.annotations).reshape(60, 4, -1).any(axis=2)
    disagree = marked.any(axis=1) & ~marked.all(axis=1)
    assert disagree.sum() >= 2
    peak = np.asarray(test.oracle)[:, 1].reshape(60, -1).max(axis=1)
    assert ((peak > 0) & (peak < 1)).sum() >= 5
    crisp = get_dataset("synthetic-lidc", image_size=32, n_train=2, n_val=2, n_test=60, ambiguity=0.0)
    assert set(np.unique(crisp.split("test").oracle)) <= {0.0, 1.0}
    annotations = np.asarray(crisp.split("test").annotations)
    assert (annotations == annotations[:, :1]).all()


def test_chaksu_ambiguity_zero_makes_all_annotators_agree() -> None:
    crisp = get_dataset("synthetic-chaksu", image_size=24, n_train=2, n_val=2, n_test=6, ambiguity=0.0)
    for split in ("test", "ood"):
        annotations = np.asarray(crisp.split(split).annotations)
        assert (annotations == annotations[:, :1]).all()
        assert set(np.unique(crisp.split(split).oracle)) <= {0.0, 1.0}


def test_presence_probability_is_the_documented_function_of_contrast() -> None:
    contrast = np.array([0.05, 0.1, 0.3, 0.5, 0.9])
    np.testing.assert_allclose(lidc.marking_probability(contrast, 1.0), [0, 0, 0.5, 1, 1], atol=1e-6)
    np.testing.assert_allclose(lidc.marking_probability(contrast, 0.0), 1.0)
    np.testing.assert_allclose(lidc.marking_probability(contrast, 1.5), [0, 0, 0.5**1.5, 1, 1], atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_boundary_ambiguity_lies_on_the_boundaries(small: dict, name: str) -> None:
    oracle = np.asarray(small[name].split("test").oracle)
    variance = (oracle * (1 - oracle)).sum(axis=1)
    corners = variance[:, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert (corners == 0).all()
    foreground = 1.0 - oracle[:, 0]
    for image_variance, image_foreground in zip(variance, foreground, strict=True):
        if image_foreground.max() == 1.0:
            assert 0 < (image_variance > 0).mean() < 0.5
            band = (image_foreground > 0) & (image_foreground < 1)
            assert band.any()


def test_image_and_oracle_are_aligned(small: dict) -> None:
    """Where the lesion oracle and its flipped or transposed copy disagree, the image is brighter on its side."""
    images = np.asarray(small["synthetic-lidc"].split("train").images)[:, 0]
    lesion = np.asarray(small["synthetic-lidc"].split("train").oracle)[:, 1] > 0.5
    for moved in (lesion[:, ::-1], lesion[:, :, ::-1], lesion.transpose(0, 2, 1)):
        gaps = [image[own & ~other].mean() - image[other & ~own].mean()
                for image, own, other in zip(images, lesion, moved, strict=True) if (own & ~other).sum() > 3]
        assert len(gaps) >= 6 and np.mean(np.array(gaps) > 0) >= 0.8


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("options", "message"), [
    ({"n_train": 0}, "n_train must be ≥ 1"),
    ({"n_test": 0}, "n_test must be ≥ 1"),
    ({"image_size": 8}, "image_size must be in \\[16"),
    ({"image_size": 32.0}, "image_size must be an integer"),
    ({"ambiguity": -0.1}, "ambiguity must lie in"),
    ({"ambiguity": 2.0}, "ambiguity must lie in"),
    ({"ambiguity": "high"}, "ambiguity must be a number"),
    ({"seed": -1}, "seed must be ≥ 0"),
])
def test_bad_options_raise_config_errors(name: str, options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        get_dataset(name, **options)


def test_unknown_dataset_and_unknown_option() -> None:
    with pytest.raises(ConfigError, match="unknown dataset 'synthetic-brats'"):
        get_dataset("synthetic-brats")
    with pytest.raises(TypeError):
        get_dataset("synthetic-lidc", n_images=3)


def test_real_dataset_factories_need_a_prepared_root(tmp_path) -> None:
    with pytest.raises(TypeError):
        get_dataset("lidc")
    with pytest.raises(InputError, match="does not exist"):
        get_dataset("chaksu", root=tmp_path / "missing")
