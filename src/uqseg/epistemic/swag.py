"""SWAG and SWAG-D state and weight sampler (docs/method.md §6; Maddox et al. 2019, "A Simple Baseline for Bayesian
Uncertainty in Deep Learning").

``SwagState`` keeps, per parameter tensor, the running first moment μ = mean_t w_t and second moment
E[w²] = mean_t w_t² (both float64 on the CPU, so that E[w²] − μ² does not cancel catastrophically), and the K
latest deviation columns D, column t being w_t − μ_t with μ_t the running mean *after* update t (as in the SWAG
paper). ``sample_weights`` draws

    w = μ + √scale · (σ ⊙ z₁ + D z₂ / √(K − 1)),   σ² = max(E[w²] − μ², 0),

with z₁ ~ N(0, I) per element, one z₂ ~ N(0, I_K) shared by all tensors, and K the number of columns held.
SWAG-D (``diagonal=True``) drops the D term. The clamp at 0 removes the small negative values that rounding
leaves where the true variance is ~0.

``scale``: the paper uses ``scale = 1`` (the default). The original SWAG paper samples
w = μ + σ ⊙ z₁/√2 + D z₂/√(2(K − 1)), i.e. ``scale = 0.5``; pass that to reproduce it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from uqseg.atomic import atomic_path
from uqseg.epistemic.base import instance_seed
from uqseg.epistemic.stacked import StackableMethod, loaded_parameters
from uqseg.errors import ConfigError, InputError
from uqseg.nn.base import AleatoricModel

FORMAT = "uqseg-swag-v1"
_DTYPES = {str(d): d for d in (torch.float16, torch.bfloat16, torch.float32, torch.float64)}


@dataclass
class SwagState:
    """Running SWAG moments and deviation columns over a fixed set of named tensors (docs/method.md §6)."""

    mean: dict[str, Tensor]
    sq_mean: dict[str, Tensor]
    deviations: dict[str, Tensor]
    dtypes: dict[str, torch.dtype]
    max_cols: int = 30
    n: int = 0
    names: list[str] = field(default_factory=list)

    @classmethod
    def empty(cls, params: Mapping[str, Tensor], max_cols: int = 30) -> SwagState:
        """A state with no snapshot yet for tensors shaped like ``params`` (keeps the K = ``max_cols`` latest)."""
        if max_cols < 1:
            raise ConfigError(f"max_cols must be at least 1, got {max_cols}")
        if not params:
            raise InputError("SwagState needs at least one parameter tensor")
        names = list(params)
        zeros = {k: torch.zeros(tuple(params[k].shape), dtype=torch.float64) for k in names}
        devs = {k: torch.zeros((0, *params[k].shape), dtype=torch.float32) for k in names}
        dtypes = {k: params[k].dtype for k in names}
        sq = {k: v.clone() for k, v in zeros.items()}
        return cls(mean=zeros, sq_mean=sq, deviations=devs, dtypes=dtypes, max_cols=max_cols, n=0, names=names)

    @property
    def num_cols(self) -> int:
        """K: the number of deviation columns currently held (≤ max_cols)."""
        return int(self.deviations[self.names[0]].shape[0])

    def update(self, params: Mapping[str, Tensor]) -> None:
        """Add one weight snapshot: update μ and E[w²], then append the column w − μ (dropping the oldest beyond K)."""
        if set(params) != set(self.names):
            missing, extra = set(self.names) - set(params), set(params) - set(self.names)
            raise InputError(f"SWAG snapshot tensors differ from the state's: missing {sorted(missing)[:3]}, "
                             f"extra {sorted(extra)[:3]}")
        self.n += 1
        for k in self.names:
            w = params[k].detach().to("cpu", torch.float64)
            if tuple(w.shape) != tuple(self.mean[k].shape):
                raise InputError(f"SWAG snapshot tensor {k!r} has shape {tuple(w.shape)}, "
                                 f"expected {tuple(self.mean[k].shape)}")
            self.mean[k] += (w - self.mean[k]) / self.n
            self.sq_mean[k] += (w * w - self.sq_mean[k]) / self.n
            column = (w - self.mean[k]).to(torch.float32)[None]
            self.deviations[k] = torch.cat([self.deviations[k], column])[-self.max_cols:]

    def variance(self, name: str) -> Tensor:
        """σ² = max(E[w²] − μ², 0) of tensor ``name`` (float64)."""
        return (self.sq_mean[name] - self.mean[name] ** 2).clamp_min(0.0)

    def save(self, path: Path | str) -> Path:
        """Write the state to a safetensors file atomically."""
        tensors: dict[str, Tensor] = {}
        for k in self.names:
            tensors[f"mean/{k}"] = self.mean[k].contiguous()
            tensors[f"sq_mean/{k}"] = self.sq_mean[k].contiguous()
            tensors[f"dev/{k}"] = self.deviations[k].contiguous()
        meta = {
            "format": FORMAT,
            "n": str(self.n),
            "max_cols": str(self.max_cols),
            "names": json.dumps(self.names),
            "dtypes": json.dumps({k: str(self.dtypes[k]) for k in self.names}),
        }
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata=meta)
        return Path(path)

    @classmethod
    def load(cls, path: Path | str) -> SwagState:
        """Read a state written by ``save``; a missing, corrupt or foreign file is an InputError naming it."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"SWAG state file {path} does not exist")
        try:
            tensors = load_file(str(path))
            with open(path, "rb") as handle:
                header_len = int.from_bytes(handle.read(8), "little")
                meta = json.loads(handle.read(header_len)).get("__metadata__", {})
            if meta.get("format") != FORMAT:
                raise ValueError(f"format {meta.get('format')!r} is not {FORMAT}")
            names = json.loads(meta["names"])
            dtypes = {k: _DTYPES[v] for k, v in json.loads(meta["dtypes"]).items()}
            state = cls(
                mean={k: tensors[f"mean/{k}"] for k in names},
                sq_mean={k: tensors[f"sq_mean/{k}"] for k in names},
                deviations={k: tensors[f"dev/{k}"] for k in names},
                dtypes={k: dtypes[k] for k in names},
                max_cols=int(meta["max_cols"]),
                n=int(meta["n"]),
                names=names,
            )
        except (SafetensorError, OSError, ValueError, KeyError, TypeError) as err:
            raise InputError(f"SWAG state file {path} is corrupt or not a uqseg SWAG state: {err}") from None
        if not names or state.n < 1 or len({state.deviations[k].shape[0] for k in names}) != 1:
            raise InputError(f"SWAG state file {path} is inconsistent (n={state.n}, {len(names)} tensors)")
        return state


def sample_weights(
    state: SwagState, generator: torch.Generator, *, scale: float = 1.0, diagonal: bool = False
) -> dict[str, Tensor]:
    """Draw one weight set w = μ + √scale·(σ ⊙ z₁ + D z₂/√(K−1)) (docs/method.md §6); SWAG-D when ``diagonal``.

    Draws on the CPU from ``generator`` in a fixed order (z₂ first, then z₁ per tensor in the state's order), so a
    seeded generator gives the same weights everywhere. Returns tensors in the dtypes of the collected parameters.
    """
    if state.n < 1:
        raise InputError("the SWAG state holds no snapshot; train with SWAG collection first")
    if scale < 0:
        raise ConfigError(f"SWAG scale must be >= 0, got {scale}")
    k = state.num_cols
    if not diagonal and k < 2:
        raise InputError(f"SWAG needs at least 2 deviation columns for its low-rank term, the state holds {k}")
    z2 = None if diagonal else torch.randn(k, generator=generator, dtype=torch.float64)
    root = scale**0.5
    out: dict[str, Tensor] = {}
    for name in state.names:
        z1 = torch.randn(tuple(state.mean[name].shape), generator=generator, dtype=torch.float64)
        noise = state.variance(name).sqrt() * z1
        if z2 is not None:
            cols = state.deviations[name].to(torch.float64)
            noise = noise + torch.tensordot(z2, cols, dims=1) / (k - 1) ** 0.5
        out[name] = (state.mean[name] + root * noise).to(state.dtypes[name])
    return out


class SwagMethod(StackableMethod):
    """SWAG / SWAG-D instances (docs/method.md §6): M weight draws, draw m from a generator seeded by (seed, m).

    The network is BatchNorm-free (GroupNorm), so no BN statistics are recomputed after a draw. Draws are cached on
    the model's device after first use. ``instance(m)`` loads draw m into the model and restores the original
    weights on exit; the batched path stacks several draws into one network (``uqseg.epistemic.stacked``) and
    falls back to the loop when the model holds a layer without a stacked version.
    """

    def __init__(self, model: AleatoricModel, state: SwagState, *, diagonal: bool = False, num_instances: int = 10,
                 scale: float = 1.0, seed: int = 0, batched: bool = True):
        shapes = {k: tuple(p.shape) for k, p in model.named_parameters()}
        if shapes != {k: tuple(state.mean[k].shape) for k in state.names}:
            raise InputError(f"the SWAG state's tensors do not match the model's parameters "
                             f"({len(state.names)} vs {len(shapes)} tensors, or different shapes)")
        if num_instances < 1:
            raise ConfigError(f"SWAG needs at least one instance, got {num_instances}")
        self.name = "swag_d" if diagonal else "swag"
        self.model = model.eval()
        self.state, self.diagonal, self.scale, self.seed = state, diagonal, scale, seed
        self.batched = batched
        self._m = num_instances
        self._draws: dict[int, dict[str, Tensor]] = {}

    @property
    def num_instances(self) -> int:
        return self._m

    @property
    def num_classes(self) -> int:
        return int(self.model.num_classes)

    def to(self, device: torch.device | str) -> SwagMethod:
        self.model.to(device)
        self._draws = {}
        self._stacked = None
        return self

    def draw(self, m: int) -> dict[str, Tensor]:
        """The weights of instance m (cached, on the model's device)."""
        if m not in self._draws:
            generator = torch.Generator().manual_seed(instance_seed(self.seed, m, self.name))
            device = next(self.model.parameters()).device
            weights = sample_weights(self.state, generator, scale=self.scale, diagonal=self.diagonal)
            self._draws[m] = {k: v.to(device) for k, v in weights.items()}
        return self._draws[m]

    @contextlib.contextmanager
    def _open(self, m: int) -> Iterator[AleatoricModel]:
        with loaded_parameters(self.model, self.draw(m)) as model:
            yield model

    def weight_sets(self, ms: list[int]) -> tuple[nn.Module, list[dict[str, Tensor]]]:
        return self.model, [self.draw(m) for m in ms]
