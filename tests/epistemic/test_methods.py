"""EU methods: instance semantics, batched paths against per-instance references, factory errors (docs/method.md §6)."""

from __future__ import annotations

import pytest
import torch
from epistemic_doubles import NoisyNet, ScaledNet

from uqseg.epistemic import SwagState, build_method
from uqseg.epistemic.ensemble import Ensemble
from uqseg.errors import ConfigError, InputError

IMAGES = torch.randn(3, 1, 16, 16, generator=torch.Generator().manual_seed(0))


def _swag_state(model: NoisyNet, snapshots: int = 4) -> SwagState:
    g = torch.Generator().manual_seed(5)
    params = {k: p.detach() for k, p in model.named_parameters()}
    state = SwagState.empty(params, max_cols=3)
    for _ in range(snapshots):
        state.update({k: v + 0.1 * torch.randn(v.shape, generator=g) for k, v in params.items()})
    return state


def _methods(noise: float = 1.0) -> dict[str, object]:
    def net(seed: int, dropout: float = 0.0) -> NoisyNet:
        return NoisyNet(noise=noise, dropout=dropout, seed=seed)

    swag_model = net(1)
    return {
        "none": build_method("none", [net(1)]),
        "ensemble": build_method("ensemble", [net(s) for s in range(4)]),
        "swag": build_method("swag", [swag_model], swag_state=_swag_state(swag_model), instances=4, seed=3),
        "swag_d": build_method("swag_d", [net(1)], swag_state=_swag_state(net(1)), instances=4),
        "dropout": build_method("dropout", [net(2, dropout=0.5)], instances=4, seed=3),
    }


def tiled_reference(method, images: torch.Tensor, n: int, ms: list[int], seed: int) -> torch.Tensor:
    """The batched contract, one instance at a time: instance ms[g] alone on the images tiled len(ms) times
    instance-major, from the RNG seeded with ``seed``; block g of its output."""
    b, tiled = images.shape[0], images.repeat(len(ms), 1, 1, 1)
    out = []
    for g, m in enumerate(ms):
        with method.instance(m) as model:
            torch.manual_seed(seed)
            out.append(model.sample(tiled, n)[:, g * b : (g + 1) * b])
    return torch.stack(out)


@pytest.mark.parametrize("eu", ["ensemble", "swag", "swag_d", "dropout"])
def test_batched_equals_tiled_reference(eu: str) -> None:
    """A stochastic AU model: the batched group equals each instance run alone on the tiled batch, draw by draw."""
    method = _methods()[eu]
    ms = [0, 2, 3]
    with torch.no_grad():
        batched = method.sample_instances(IMAGES, 5, ms, seed=11)
        reference = tiled_reference(method, IMAGES, 5, ms, seed=11)
    assert batched.shape == (3, 5, 3, 2, 16, 16)
    torch.testing.assert_close(batched, reference, atol=1e-5, rtol=0)
    # instances differ from each other (weights, draws or masks), so EU is not trivially 0
    assert (batched[0] - batched[1]).abs().max() > 1e-3


@pytest.mark.parametrize("eu", ["ensemble", "swag", "swag_d", "dropout"])
def test_batched_equals_loop_for_a_deterministic_sampler(eu: str) -> None:
    method = _methods(noise=0.0)[eu]
    with torch.no_grad():
        batched = method.sample_instances(IMAGES, 2, [3, 1], seed=0)
        loop = method.sample_reference(IMAGES, 2, [3, 1], seed=5)
    torch.testing.assert_close(batched, loop, atol=1e-5, rtol=0)


@pytest.mark.parametrize("eu", ["ensemble", "dropout"])
def test_batched_matches_loop_in_distribution(eu: str) -> None:
    """A stochastic AU model: each instance's mean over many batched samples matches the per-instance loop."""
    method = _methods(noise=0.3)[eu]
    with torch.no_grad():
        batched = method.sample_instances(IMAGES, 400, [0, 1, 2], seed=0).mean(1)
        loop = method.sample_reference(IMAGES, 400, [0, 1, 2], seed=1).mean(1)
    torch.testing.assert_close(batched, loop, atol=0.03, rtol=0)


def test_instance_is_deterministic_and_swag_restores_weights() -> None:
    method = _methods()["swag"]
    before = {k: v.clone() for k, v in method.model.state_dict().items()}
    with torch.no_grad():
        a = method.sample_reference(IMAGES, 2, [1], seed=0)
        b = method.sample_reference(IMAGES, 2, [1], seed=0)
        c = method.sample_reference(IMAGES, 2, [2], seed=0)
    torch.testing.assert_close(a, b, atol=0, rtol=0)
    assert (a - c).abs().max() > 1e-3
    assert all(torch.equal(before[k], v) for k, v in method.model.state_dict().items())
    with pytest.raises(RuntimeError), method.instance(0) as model:
        assert not torch.equal(model.conv1.weight, before["conv1.weight"])
        raise RuntimeError("leave the context early")
    assert torch.equal(method.model.conv1.weight, before["conv1.weight"])


def test_instance_counts_and_range() -> None:
    methods = _methods()
    assert {k: m.num_instances for k, m in methods.items()} == {
        "none": 1, "ensemble": 4, "swag": 4, "swag_d": 4, "dropout": 4}
    with pytest.raises(ConfigError, match=r"instances 0\.\.3"), methods["swag"].instance(4):
        pass
    with pytest.raises(ConfigError):
        methods["ensemble"].sample_instances(IMAGES, 1, [0, 4], seed=0)


@pytest.mark.parametrize("eu", ["ensemble", "swag"])
def test_unstackable_layer_falls_back_to_the_loop(eu: str) -> None:
    if eu == "ensemble":
        method = Ensemble([ScaledNet(seed=s) for s in range(3)])
    else:
        model = ScaledNet(seed=1)
        method = build_method("swag", [model], swag_state=_swag_state(model), instances=3)
    with torch.no_grad(), pytest.warns(RuntimeWarning, match="one by one"):
        batched = method.sample_instances(IMAGES, 2, [0, 1, 2], seed=4)
    torch.testing.assert_close(batched, method.sample_reference(IMAGES, 2, [0, 1, 2], seed=4))
    assert method.batched is False


def test_factory_errors() -> None:
    with pytest.raises(ConfigError, match="unknown EU method"):
        build_method("bayes", [NoisyNet()])
    with pytest.raises(ConfigError, match="SWAG state"):
        build_method("swag", [NoisyNet()])
    with pytest.raises(ConfigError, match="one trained model"):
        build_method("dropout", [NoisyNet(), NoisyNet()])
    with pytest.raises(ConfigError, match="no MC dropout"), build_method("dropout", [NoisyNet()]).instance(0):
        pass
    other = NoisyNet(width=4)
    with pytest.raises(InputError, match="do not match"):
        build_method("swag", [NoisyNet()], swag_state=_swag_state(other))
    with pytest.raises(ConfigError, match="architecture"):
        build_method("ensemble", [NoisyNet(), nn_other()])


def nn_other() -> NoisyNet:
    model = NoisyNet()
    model.extra = torch.nn.Linear(1, 1)
    return model
