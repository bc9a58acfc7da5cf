"""SWAG state and sampler against hand-computed moments and the analytic covariance (docs/method.md §6)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from uqseg.epistemic.swag import SwagState, sample_weights
from uqseg.errors import ConfigError, InputError


def _snapshots(t: int, seed: int = 0) -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return [{"a": torch.randn(2, 2, generator=g), "b": torch.randn(3, generator=g) * 0.5 + 1.0} for _ in range(t)]


def _state(t: int, k: int) -> tuple[SwagState, list[dict[str, torch.Tensor]]]:
    snaps = _snapshots(t)
    state = SwagState.empty(snaps[0], max_cols=k)
    for s in snaps:
        state.update(s)
    return state, snaps


def test_moments_and_columns_match_hand_computation() -> None:
    state, snaps = _state(5, 3)
    flat = np.stack([np.concatenate([s["a"].numpy().ravel(), s["b"].numpy()]) for s in snaps]).astype(np.float64)
    assert state.n == 5 and state.num_cols == 3
    np.testing.assert_allclose(state.mean["a"].numpy().ravel(), flat[:, :4].mean(0), atol=1e-12)
    np.testing.assert_allclose(state.variance("b").numpy(), flat[:, 4:].var(0), atol=1e-12)
    # column t = w_t − running mean after update t; the 3 latest are t = 3, 4, 5
    running = np.cumsum(flat, 0) / np.arange(1, 6)[:, None]
    expected = (flat - running)[2:]
    got = np.concatenate([state.deviations["a"].reshape(3, -1).numpy(), state.deviations["b"].numpy()], 1)
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_variance_clamped_at_zero() -> None:
    w = {"a": torch.full((4,), 0.1)}
    state = SwagState.empty(w, 5)
    for _ in range(3):
        state.update(w)
    state.sq_mean["a"] -= 1e-12  # rounding that makes E[w²] − μ² slightly negative
    assert (state.variance("a") == 0).all()


def _empirical(state: SwagState, n: int, **kw: object) -> tuple[np.ndarray, np.ndarray]:
    g = torch.Generator().manual_seed(1)
    draws = []
    for _ in range(n):
        w = sample_weights(state, g, **kw)
        draws.append(np.concatenate([w["a"].double().numpy().ravel(), w["b"].double().numpy()]))
    d = np.stack(draws)
    return d.mean(0), np.cov(d, rowvar=False)


def _flat(state: SwagState, key: str) -> np.ndarray:
    return np.concatenate([getattr(state, key)["a"].numpy().ravel(), getattr(state, key)["b"].numpy()])


@pytest.mark.parametrize("scale", [1.0, 0.5])
@pytest.mark.parametrize("diagonal", [False, True])
def test_sampler_matches_analytic_covariance(scale: float, diagonal: bool) -> None:
    state, _ = _state(6, 4)
    mu = _flat(state, "mean")
    var = np.concatenate([state.variance("a").numpy().ravel(), state.variance("b").numpy()])
    d = np.concatenate([state.deviations["a"].reshape(4, -1).double().numpy(), state.deviations["b"].double().numpy()],
                       1)
    cov = np.diag(var) if diagonal else np.diag(var) + d.T @ d / (4 - 1)
    cov = scale * cov
    mean, emp = _empirical(state, 10000, scale=scale, diagonal=diagonal)
    scale_ref = np.sqrt(np.diag(cov))
    assert np.abs(mean - mu).max() < 4 * scale_ref.max() / np.sqrt(10000)
    assert np.abs(emp - cov).max() < 0.05 * np.abs(cov).max()
    if not diagonal:  # the low-rank term makes off-diagonal covariance that SWAG-D lacks
        assert np.abs(cov - np.diag(np.diag(cov))).max() > 0.2 * np.abs(cov).max()


def test_sampler_deterministic_and_dtype() -> None:
    state, snaps = _state(4, 3)
    w1 = sample_weights(state, torch.Generator().manual_seed(7))
    w2 = sample_weights(state, torch.Generator().manual_seed(7))
    assert all(torch.equal(w1[k], w2[k]) and w1[k].dtype == snaps[0][k].dtype for k in w1)


def test_scale_zero_gives_mean() -> None:
    state, _ = _state(4, 3)
    w = sample_weights(state, torch.Generator().manual_seed(0), scale=0.0)
    torch.testing.assert_close(w["b"], state.mean["b"].float())


def test_save_load_roundtrip(tmp_path) -> None:
    state, _ = _state(5, 3)
    path = state.save(tmp_path / "swag.safetensors")
    back = SwagState.load(path)
    assert back.n == 5 and back.max_cols == 3 and back.names == state.names and back.dtypes == state.dtypes
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    w1, w2 = sample_weights(state, g1), sample_weights(back, g2)
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
    back.update(_snapshots(1, seed=9)[0])
    assert back.n == 6 and back.num_cols == 3


def test_load_corrupt_names_file(tmp_path) -> None:
    bad = tmp_path / "swag.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
    with pytest.raises(InputError, match=r"swag\.safetensors"):
        SwagState.load(bad)
    with pytest.raises(InputError, match="does not exist"):
        SwagState.load(tmp_path / "missing.safetensors")


def test_bad_input() -> None:
    state, _ = _state(1, 3)
    with pytest.raises(InputError, match="2 deviation columns"):
        sample_weights(state, torch.Generator())
    sample_weights(state, torch.Generator(), diagonal=True)
    with pytest.raises(ConfigError):
        sample_weights(state, torch.Generator(), scale=-1.0, diagonal=True)
    with pytest.raises(InputError, match="shape"):
        state.update({"a": torch.zeros(3), "b": torch.zeros(3)})
    with pytest.raises(InputError, match="missing"):
        state.update({"a": torch.zeros(2, 2)})
