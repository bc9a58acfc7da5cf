"""Sub-ensembles extracted from one trained network (docs/method.md "Sub-ensembles from one network"; Kirsch,
*(Implicit) Ensembles of Ensembles: Epistemic Uncertainty Collapse in Large Models*, TMLR 2025).

Every ``nn.Conv2d`` and ``nn.Linear`` of a frozen AU model gets K × (output channels) mask logits ℓ_out, and
optionally K × (input channels) logits ℓ_in. Sub-model k uses the weight W · m_out[k] ⊗ m_in[k] and the bias
b · m_out[k], with ``normalize`` rescaled dropout-style by the inverse keep ratios of its masks. While the masks
train (``uqseg.training.subensemble_fit``) they are relaxed by a Gumbel-softmax over
(ℓ, −ℓ) at a temperature τ; afterwards they are hard, m = [ℓ ≥ 0]. Other layers (GroupNorm, the attention's 1-D
convolutions) stay unmasked, as in the authors' code, which wraps exactly Conv2d and Linear; so do the submodules an
AU model names in ``subensemble_exempt`` (Prob. UNet's latent nets) unless ``scope: all``.

Each sub-model is one EU instance (``SubEnsemble``): its weights are the base weights with the hard masks applied,
so a group of instances goes through the stacked-instance path (``uqseg.epistemic.stacked``) as K weight sets of
one architecture. The result is stored as the base weights plus the hard masks and the normalize flag in one
safetensors file (``save_subensemble`` / ``load_subensemble``).
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from uqseg.atomic import atomic_path
from uqseg.epistemic.stacked import StackableMethod, loaded_parameters
from uqseg.errors import ConfigError, InputError
from uqseg.nn.base import AleatoricModel

FORMAT = "uqseg-subensemble-v1"
MASKABLE = (nn.Conv2d, nn.Linear)


def keep_scale(mask: Tensor, eps: float = 1e-6) -> Tensor:
    """1 / (mean of ``mask``), the mean clamped at ``eps``: the dropout-style rescaling of a layer whose channels are
    kept with ``mask`` (docs/method.md "Sub-ensembles from one network", normalize)."""
    return 1 / mask.float().mean().clamp_min(eps).to(mask.dtype)


def apply_masks(weight: Tensor, bias: Tensor | None, out_mask: Tensor, in_mask: Tensor | None,
                groups: int = 1, normalize: bool = False) -> tuple[Tensor, Tensor | None]:
    """(W · m_out ⊗ m_in, b · m_out) for a weight of shape out × in/groups × … (docs/method.md "Sub-ensembles"):
    output channel o of group g sees input channels g·in/groups … (g+1)·in/groups − 1 of ``in_mask``. With
    ``normalize`` the weight is multiplied by keep_scale(m_out) · keep_scale(m_in) and the bias by keep_scale(m_out),
    as in the authors' code."""
    trailing = (1,) * (weight.dim() - 1)
    out_scale = keep_scale(out_mask) if normalize else 1
    mask = out_mask.reshape(-1, *trailing) * out_scale
    if in_mask is not None:
        out_ch, per_group = weight.shape[0], weight.shape[1]
        cols = in_mask.reshape(groups, 1, per_group).expand(groups, out_ch // groups, per_group)
        mask = mask * cols.reshape(out_ch, per_group, *trailing[1:]) * (keep_scale(in_mask) if normalize else 1)
    return weight * mask, None if bias is None else bias * out_mask * out_scale


class _Masking:
    """The mask state shared by the masked layers: logits, the active sub-model, the relaxation temperature (None:
    hard masks ℓ ≥ 0) and whether the masked weights are rescaled by the inverse keep ratio (``normalize``)."""

    weight: Tensor
    bias: Tensor | None
    mask_logits_out: nn.Parameter
    mask_logits_in: nn.Parameter | None
    active: int = 0
    temperature: float | None = None
    normalize: bool = False

    def _init_masks(self, k: int, out_ch: int, in_ch: int, input_masks: bool, init: float) -> None:
        like = {"device": self.weight.device, "dtype": torch.float32}
        self.mask_logits_out = nn.Parameter(torch.full((k, out_ch), init, **like))
        self.mask_logits_in = nn.Parameter(torch.full((k, in_ch), init, **like)) if input_masks else None

    @property
    def num_masks(self) -> int:
        """K, the number of sub-models."""
        return int(self.mask_logits_out.shape[0])

    def _mask(self, logits: Tensor) -> Tensor:
        if self.temperature is None:
            return (logits >= 0).to(self.weight.dtype)
        relaxed = F.gumbel_softmax(torch.stack([logits, -logits], -1), tau=self.temperature, hard=False, dim=-1)
        return relaxed[..., 0].to(self.weight.dtype)

    def masked_parameters(self) -> tuple[Tensor, Tensor | None]:
        """The active sub-model's weight and bias (relaxed masks drawn afresh on every call while training)."""
        k = self.active
        in_mask = None if self.mask_logits_in is None else self._mask(self.mask_logits_in[k])
        groups = getattr(self, "groups", 1)
        return apply_masks(self.weight, self.bias, self._mask(self.mask_logits_out[k]), in_mask, groups,
                           self.normalize)

    def keep_probabilities(self) -> Tensor:
        """K × (out · in/groups) soft keep probabilities σ(2ℓ_out)·σ(2ℓ_in) of every channel pair (σ(2ℓ) is the
        softmax of (ℓ, −ℓ)); the input factor is 1 without input masks."""
        p_out = torch.sigmoid(2 * self.mask_logits_out)
        out_ch, per_group = self.weight.shape[0], self.weight.shape[1]
        if self.mask_logits_in is None:
            return p_out.unsqueeze(-1).expand(-1, out_ch, per_group).reshape(p_out.shape[0], -1)
        p_in = torch.sigmoid(2 * self.mask_logits_in)
        groups = getattr(self, "groups", 1)
        cols = p_in.reshape(-1, groups, 1, per_group).expand(-1, groups, out_ch // groups, per_group)
        return (p_out.unsqueeze(-1) * cols.reshape(-1, out_ch, per_group)).reshape(p_out.shape[0], -1)

    def expected_fraction(self) -> Tensor:
        """K expected kept fractions Σ σ(2ℓ_out)·σ(2ℓ_in) × kernel size / number of weights."""
        kernel = self.weight[0, 0].numel()
        return self.keep_probabilities().sum(1) * kernel / self.weight.numel()


class MaskedConv2d(_Masking, nn.Conv2d):
    """A Conv2d with K channel masks; shares the weight and bias tensors of the layer it was made from."""

    @classmethod
    def wrap(cls, layer: nn.Conv2d, k: int, input_masks: bool, init: float = 0.0) -> MaskedConv2d:
        """The masked version of ``layer`` (its own weight and bias Parameters, not copies), every ℓ = ``init``."""
        masked = cls(layer.in_channels, layer.out_channels, layer.kernel_size, stride=layer.stride,
                     padding=layer.padding, dilation=layer.dilation, groups=layer.groups,
                     bias=layer.bias is not None, padding_mode=layer.padding_mode, device="meta")
        masked.weight, masked.bias = layer.weight, layer.bias
        masked._init_masks(k, layer.out_channels, layer.in_channels, input_masks, init)
        return masked

    def forward(self, x: Tensor) -> Tensor:
        weight, bias = self.masked_parameters()
        return self._conv_forward(x, weight, bias)


class MaskedLinear(_Masking, nn.Linear):
    """A Linear layer with K channel masks; shares the weight and bias tensors of the layer it was made from."""

    @classmethod
    def wrap(cls, layer: nn.Linear, k: int, input_masks: bool, init: float = 0.0) -> MaskedLinear:
        """The masked version of ``layer`` (its own weight and bias Parameters, not copies), every ℓ = ``init``."""
        masked = cls(layer.in_features, layer.out_features, bias=layer.bias is not None, device="meta")
        masked.weight, masked.bias = layer.weight, layer.bias
        masked._init_masks(k, layer.out_features, layer.in_features, input_masks, init)
        return masked

    def forward(self, x: Tensor) -> Tensor:
        weight, bias = self.masked_parameters()
        return F.linear(x, weight, bias)


MaskedLayer = MaskedConv2d | MaskedLinear


def fraction_init_logit(target: float, input_masks: bool) -> float:
    """The ℓ at which the expected kept fraction is ``target``: σ(2ℓ) = target, or √target per factor with input
    masks (the authors' ``--use_fraction_init`` with the target; ``init_keep`` with its keep probability;
    docs/method.md "Sub-ensembles from one network")."""
    p = min(max(math.sqrt(target) if input_masks else target, 1e-6), 1 - 1e-6)
    return 0.5 * math.log(p / (1 - p))


def exempted(name: str, exempt: tuple[str, ...]) -> bool:
    """Whether the module ``name`` is one of the submodules ``exempt`` or lies inside one."""
    return any(name == e or name.startswith(f"{e}.") for e in exempt)


def attach_masks(model: AleatoricModel, k: int, *, input_masks: bool = False, normalize: bool = False,
                 init: float = 0.0, exempt: tuple[str, ...] = ()) -> AleatoricModel:
    """A copy of ``model`` whose every Conv2d and Linear outside the submodules ``exempt`` is masked with K sub-model
    masks, ℓ = ``init`` (0: every sub-model starts as the base model) (docs/method.md "Sub-ensembles"). The copy's own
    weights are frozen; only the mask logits require gradients."""
    if k < 1:
        raise ConfigError(f"a sub-ensemble needs at least one sub-model, got K = {k}")
    masked = copy.deepcopy(model).requires_grad_(False)
    targets = [(name, module) for name, module in masked.named_modules()
               if type(module) in MASKABLE and not exempted(name, exempt)]
    if not targets:
        raise ConfigError(f"{type(model).__name__} has no Conv2d or Linear layer to mask outside {list(exempt)}")
    for name, module in targets:
        wrapper = MaskedConv2d if isinstance(module, nn.Conv2d) else MaskedLinear
        parent, _, child = name.rpartition(".")
        layer = wrapper.wrap(module, k, input_masks, init)
        layer.normalize = normalize
        setattr(masked.get_submodule(parent), child, layer)
    return masked


def masked_layers(model: nn.Module) -> list[tuple[str, MaskedLayer]]:
    """The masked layers of ``model`` with their qualified names, in module order."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, (MaskedConv2d, MaskedLinear))]


def mask_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Every mask logit tensor ℓ of ``model`` (what mask training optimises)."""
    params: list[nn.Parameter] = []
    for _, layer in masked_layers(model):
        params.append(layer.mask_logits_out)
        if layer.mask_logits_in is not None:
            params.append(layer.mask_logits_in)
    return params


def select_submodel(model: nn.Module, k: int, temperature: float | None = None) -> None:
    """Make sub-model ``k`` active in every masked layer; relaxed masks at ``temperature``, hard ones for None."""
    for _, layer in masked_layers(model):
        if not 0 <= k < layer.num_masks:
            raise ConfigError(f"sub-model {k} does not exist; the sub-ensemble has {layer.num_masks}")
        layer.active, layer.temperature = k, temperature


def size_penalty(model: nn.Module, target: float, both: bool = False) -> Tensor:
    """Mean over masked layers (and sub-models) of ReLU(expected kept fraction − target), or with ``both`` of
    |expected kept fraction − target| (docs/method.md "Sub-ensembles")."""
    gap = [layer.expected_fraction() - target for _, layer in masked_layers(model)]
    terms = [(g.abs() if both else F.relu(g)).mean() for g in gap]
    return torch.stack(terms).mean()


def binary_entropy(p: Tensor) -> Tensor:
    """H(p) = −p log p − (1 − p) log(1 − p) in nats, 0 at p ∈ {0, 1}."""
    return -(torch.special.xlogy(p, p) + torch.special.xlogy(1 - p, 1 - p))


def mask_mutual_information(keep: Tensor) -> Tensor:
    """Mean over units of the mutual information between the sub-model index and the unit's on/off state, from
    the K × U keep probabilities: MI = H(mean_k p_k) − mean_k H(p_k), clamped at 0 (docs/method.md
    "Sub-ensembles")."""
    mi = binary_entropy(keep.mean(0)) - binary_entropy(keep).mean(0)
    return mi.clamp_min(0).mean()


def mean_pairwise_iou(masks: list[Tensor]) -> Tensor:
    """Mean over sub-model pairs j < k of the (soft) IoU Σ m_j m_k / Σ (m_j + m_k − m_j m_k), the sums taken over
    the entries of every K × n_l mask in ``masks`` together (the authors' alternative diversity term); 0 for K = 1."""
    inter = sum(m @ m.T for m in masks)
    sizes = sum(m.sum(1) for m in masks)
    union = sizes[:, None] + sizes[None, :] - inter
    j, k = torch.triu_indices(inter.shape[0], inter.shape[1], offset=1)
    if j.numel() == 0:
        return inter.new_zeros(())
    return (inter[j, k] / (union[j, k] + 1e-8)).mean()


def unit_keep_probabilities(model: nn.Module) -> Tensor:
    """K × U soft keep probabilities σ(2ℓ) of every masked unit (output channels, then input channels where masked)
    of every masked layer."""
    parts = []
    for _, layer in masked_layers(model):
        parts.append(torch.sigmoid(2 * layer.mask_logits_out))
        if layer.mask_logits_in is not None:
            parts.append(torch.sigmoid(2 * layer.mask_logits_in))
    return torch.cat(parts, 1)


def diversity_term(model: nn.Module, kind: str, weight: float) -> Tensor:
    """The diversity regulariser: −weight × mask MI (``mi``, the default) or +weight × the mean pairwise soft IoU
    of the channel-pair masks (``iou``) (docs/method.md "Sub-ensembles")."""
    if kind == "mi":
        return -weight * mask_mutual_information(unit_keep_probabilities(model))
    if kind == "iou":
        return weight * mean_pairwise_iou([layer.keep_probabilities() for _, layer in masked_layers(model)])
    raise ConfigError(f"unknown sub-ensemble diversity term {kind!r}; choose 'mi' or 'iou'")


def hard_masks(logits: Tensor, rule: str = "sign") -> Tensor:
    """K × n hard masks from K × n logits (docs/method.md "Sub-ensembles from one network"): ``sign`` keeps ℓ ≥ 0
    (the authors'); ``expected`` keeps, per sub-model, the max(1, round(Σ σ(2ℓ))) units of largest ℓ, i.e. as many
    as the relaxed masks kept in expectation while training, the most likely ones (ties: the first)."""
    if rule == "sign":
        return logits >= 0
    if rule != "expected":
        raise ConfigError(f"unknown hard-mask rule {rule!r}; choose 'sign' or 'expected'")
    counts = torch.sigmoid(2 * logits).sum(1).round().clamp_min(1).long()
    ranks = torch.sort(logits, stable=True, dim=1, descending=True).indices.argsort(1)
    return ranks < counts[:, None]


@dataclass(frozen=True)
class SubensembleMasks:
    """Hard masks of K sub-models: per masked layer name, K × out (and K × in where input masks are used) bools;
    ``normalize``: the masked weights are rescaled by the inverse keep ratios (``apply_masks``)."""

    outputs: dict[str, Tensor]
    inputs: dict[str, Tensor]
    normalize: bool = False

    def __post_init__(self) -> None:
        counts = {int(m.shape[0]) for m in (*self.outputs.values(), *self.inputs.values())}
        if len(counts) != 1 or not self.outputs or set(self.inputs) - set(self.outputs):
            raise InputError(f"sub-ensemble masks are inconsistent ({len(self.outputs)} layers, K values {counts})")

    @property
    def k(self) -> int:
        """K, the number of sub-models."""
        return int(next(iter(self.outputs.values())).shape[0])

    @classmethod
    def from_model(cls, model: nn.Module, rule: str = "sign") -> SubensembleMasks:
        """The hard masks (``hard_masks``, by ``rule``) of a masked model, with its layers' normalize flag."""
        layers = masked_layers(model)
        outputs = {name: hard_masks(layer.mask_logits_out.detach(), rule).cpu() for name, layer in layers}
        inputs = {name: hard_masks(layer.mask_logits_in.detach(), rule).cpu() for name, layer in layers
                  if layer.mask_logits_in is not None}
        return cls(outputs, inputs, any(layer.normalize for _, layer in layers))

    def weights(self, model: nn.Module, k: int) -> dict[str, Tensor]:
        """The parameters of sub-model ``k`` (named as in ``model.named_parameters()``): the base weights with the
        hard masks applied to every masked layer (rescaled with ``normalize``), the others unchanged."""
        params = {name: p.detach() for name, p in model.named_parameters()}
        for name, out_mask in self.outputs.items():
            layer = model.get_submodule(name)
            if type(layer) not in MASKABLE or layer.weight.shape[0] != out_mask.shape[1]:
                raise InputError(f"sub-ensemble mask of layer {name!r} does not fit the model")
            dtype, device = layer.weight.dtype, layer.weight.device
            in_mask = self.inputs.get(name)
            weight, bias = apply_masks(
                layer.weight.detach(), None if layer.bias is None else layer.bias.detach(),
                out_mask[k].to(device, dtype), None if in_mask is None else in_mask[k].to(device, dtype),
                getattr(layer, "groups", 1), self.normalize,
            )
            params[f"{name}.weight"] = weight
            if bias is not None:
                params[f"{name}.bias"] = bias
        return params


def save_subensemble(path: Path | str, base_state: Mapping[str, Tensor], masks: SubensembleMasks,
                     metadata: Mapping[str, object] | None = None) -> Path:
    """Write the base weights (the model's state dict), the hard masks and their normalize flag to one safetensors
    file, atomically."""
    tensors = {f"base/{k}": v.detach().cpu().contiguous().clone() for k, v in base_state.items()}
    tensors |= {f"mask_out/{k}": v.to(torch.uint8).contiguous() for k, v in masks.outputs.items()}
    tensors |= {f"mask_in/{k}": v.to(torch.uint8).contiguous() for k, v in masks.inputs.items()}
    meta = {"format": FORMAT, "k": str(masks.k), "normalize": json.dumps(masks.normalize),
            "config": json.dumps(dict(metadata or {}), sort_keys=True)}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return Path(path)


def load_subensemble(path: Path | str) -> tuple[dict[str, Tensor], SubensembleMasks, dict[str, object]]:
    """(base state dict, hard masks, metadata) from a file written by ``save_subensemble``; a missing, corrupt or
    foreign file is an InputError naming it. A file without the normalize flag (written before it existed) has
    unscaled masks."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"sub-ensemble file {path} does not exist")
    try:
        tensors = load_file(str(path))
        with open(path, "rb") as handle:
            header = json.loads(handle.read(int.from_bytes(handle.read(8), "little")))
        meta = header.get("__metadata__", {})
        if meta.get("format") != FORMAT:
            raise ValueError(f"format {meta.get('format')!r} is not {FORMAT}")
        config = json.loads(meta["config"])

        def part(prefix: str, as_bool: bool) -> dict[str, Tensor]:
            out = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
            return {k: v.bool() for k, v in out.items()} if as_bool else out

        normalize = json.loads(meta.get("normalize", "false"))
        if not isinstance(normalize, bool):
            raise ValueError(f"normalize flag {normalize!r} is not a boolean")
        masks = SubensembleMasks(part("mask_out/", True), part("mask_in/", True), normalize)
    except (SafetensorError, OSError, ValueError, KeyError, TypeError, InputError) as err:
        raise InputError(f"sub-ensemble file {path} is corrupt or not a uqseg sub-ensemble: {err}") from None
    if masks.k != int(meta["k"]):
        raise InputError(f"sub-ensemble file {path} is inconsistent (K = {meta['k']}, masks of {masks.k})")
    return part("base/", False), masks, config


class SubEnsemble(StackableMethod):
    """The K sub-models of one trained network as EU instances (docs/method.md "Sub-ensembles from one network").

    ``instance(m)`` loads sub-model m's masked weights into the model and restores the base weights on exit; the
    batched path stacks several sub-models into one network (``uqseg.epistemic.stacked``).
    """

    name = "subensemble"

    def __init__(self, model: AleatoricModel, masks: SubensembleMasks, *, batched: bool = True):
        self.model = model.eval()
        self.masks = masks
        self.batched = batched
        self._weights: dict[int, dict[str, Tensor]] = {}
        masks.weights(self.model, 0)

    @property
    def num_instances(self) -> int:
        return self.masks.k

    @property
    def num_classes(self) -> int:
        return int(self.model.num_classes)

    def to(self, device: torch.device | str) -> SubEnsemble:
        self.model.to(device)
        self._weights = {}
        self._stacked = None
        return self

    def instance_weights(self, m: int) -> dict[str, Tensor]:
        """The parameters of sub-model m (cached, on the model's device)."""
        if m not in self._weights:
            self._weights[m] = self.masks.weights(self.model, m)
        return self._weights[m]

    @contextlib.contextmanager
    def _open(self, m: int) -> Iterator[AleatoricModel]:
        with loaded_parameters(self.model, self.instance_weights(m)) as model:
            yield model

    def weight_sets(self, ms: list[int]) -> tuple[nn.Module, list[dict[str, Tensor]]]:
        return self.model, [self.instance_weights(m) for m in ms]
