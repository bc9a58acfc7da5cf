"""Post-hoc EU rescaling against epistemic collapse (docs/method.md "Open questions"; paper §5 "Epistemic collapse
as a source of entanglement").

EU maps are often 10²–10³ times smaller than AU maps, so TU = AU + EU carries little beyond AU. The rescaled
decomposition multiplies EU by a factor f > 0 fixed on the validation split:

    EU' = f·EU,   AU' = AU,   TU' = AU + f·EU

Two choices of f: ``MeanRatio`` (f = mean AU / mean EU over the validation pixels, the paper's suggestion) and
``FactorSearch`` (the f of a log-spaced grid that maximises a task's validation performance of TU'). Both stream
validation batches and keep only fixed-size sums.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from uqseg.errors import InputError
from uqseg.metrics._check import as_array, same_shape
from uqseg.metrics.ambiguity import annotator_variance
from uqseg.metrics.batch import EvalBatch, as_batch
from uqseg.metrics.calibration import UncertaintyHistogram, ace_from_sums, pixel_correctness, platt_confidence

#: Default search grid: 25 factors, four per decade from 10⁻² to 10⁴ (f = 1, no rescaling, included).
DEFAULT_FACTORS = tuple(float(f) for f in np.logspace(-2, 4, 25))
SearchTask = Literal["CAL", "CAL_NLL", "AMB"]


def rescale(au: Any, eu: Any, factor: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(TU', AU, EU') = (AU + f·EU, AU, f·EU) for maps of any equal shape (docs/method.md "Open questions")."""
    a, e = as_array(au, "au"), as_array(eu, "eu")
    same_shape(a, e, "rescale(au, eu)")
    if not (np.isfinite(factor) and factor > 0):
        raise InputError(f"the EU factor must be finite and > 0, got {factor}")
    scaled = factor * e
    return a + scaled, a, scaled


def rescaled_batch(batch: EvalBatch | Mapping[str, Any], factor: float, *, normalise: bool = False) -> EvalBatch:
    """A copy of an evaluator batch (``EvalBatch``, or a mapping of its fields) with ``tu`` and ``eu`` replaced by TU'
    and EU' (docs/method.md "Open questions"); every other field is shared.

    ``normalise`` divides TU', AU and EU' by 1 + f, so TU' becomes the convex combination (AU + f·EU)/(1 + f) and
    every map stays at most max(AU, EU) ≤ log C, inside the evaluator's histogram range however large f is. Every
    evaluator metric (NCC, Platt-scaled ACE, AUROC, the EU/AU ratio) is unchanged by a common positive scale.
    """
    b = as_batch(batch)
    tu, au, eu = rescale(b.au, b.eu, factor)
    if not normalise:
        return b.with_maps(tu, au, eu)
    return b.with_maps(tu / (1 + factor), au / (1 + factor), eu / (1 + factor))


class MeanRatio:
    """f = mean AU / mean EU over the validation pixels, streamed (docs/method.md "Open questions")."""

    def __init__(self) -> None:
        self.sum_au, self.sum_eu, self.pixels = 0.0, 0.0, 0

    def add(self, au: Any, eu: Any) -> None:
        """Add one batch of AU and EU maps (any equal shape)."""
        a, e = as_array(au, "au"), as_array(eu, "eu")
        same_shape(a, e, "MeanRatio.add(au, eu)")
        self.sum_au += float(a.sum())
        self.sum_eu += float(e.sum())
        self.pixels += a.size

    def factor(self) -> float:
        """Σ AU / Σ EU over every pixel added (the ratio of the means)."""
        if self.pixels == 0:
            raise InputError("no validation maps were added")
        if not self.sum_eu > 0:
            raise InputError("mean EU on validation is 0: no factor makes EU comparable to AU")
        return self.sum_au / self.sum_eu


class FactorSearch:
    """Grid search of the EU factor on the validation split (docs/method.md "Open questions"); ``factors`` are
    kept sorted.

    The Δ rules (docs/method.md §2) fix what a task's performance is. Rescaling leaves AU unchanged and EU's NCC,
    AUROC and (Platt-scaled) ACE invariant, since each is invariant to a positive scale; only TU' changes. So:

    - ``CAL`` (the task TU is correct for): global ACE of TU' on validation, Platt (a, b) fitted per factor on the
      same pixel-annotator pairs (docs/method.md §3 CAL); lower is better.
    - ``CAL_NLL``: the mean negative log-likelihood of the correctness under the same Platt-scaled confidences;
      lower is better. ACE is blind to discrimination: a measure unrelated to correctness gets one constant
      confidence, which the Platt fit sets to the accuracy, and ACE 0, so minimising ACE can pick a factor that
      makes TU' uninformative. The log-likelihood, a proper scoring rule, cannot be won that way.
    - ``AMB``: mean NCC of TU' with the annotator variance over the validation images; higher is better.
    - OODD cannot be selected: validation holds no OOD images, and EU's AUROC does not depend on f.

    Per factor the search keeps a scale-free ``UncertaintyHistogram`` of TU'/(1 + f) (the Platt-scaled ACE does not
    change under a positive scale, and the convex combination stays inside the histogram's range however large f
    is; ``histogram_bins`` log bins, its ACE evaluates each bin at its mean u, so pixels of one bin share one
    confidence), and per image the centred second moments of AU, EU and the annotator variance, from which
    NCC(AU + f·EU) is exact for every f.
    """

    def __init__(self, factors: Any = DEFAULT_FACTORS, *, ace_bins: int = 20, histogram_bins: int = 1 << 14) -> None:
        f = np.asarray(factors, dtype=np.float64)
        if f.ndim != 1 or f.size == 0 or not np.isfinite(f).all() or (f <= 0).any():
            raise InputError(f"factors must be a non-empty 1-D list of finite values > 0, got {factors}")
        if ace_bins < 1:
            raise InputError(f"ace_bins must be >= 1, got {ace_bins}")
        self.factors, self.ace_bins = np.sort(f), ace_bins
        self._hist = [UncertaintyHistogram(histogram_bins) for _ in f]
        self._platt: list[tuple[float, float]] | None = None  # fitted once per streamed state, for ACE and NLL
        self._moments: list[np.ndarray] = []  # per image: Svv, Saa, See, Sae, Sva, Sve, pixels, max AU, EU, var

    def add(self, au: Any, eu: Any, annotations: Any, pred: Any) -> None:
        """Stream one validation batch: AU and EU maps (B×H×W), annotations (B×K×H×W), pred (B×H×W)."""
        a, e = as_array(au, "au", 3), as_array(eu, "eu", 3)
        same_shape(a, e, "FactorSearch.add(au, eu)")
        ann = as_array(annotations, "annotations", 4, integer=True)
        if ann.size and ann.min() < 0:
            raise InputError("annotations hold negative labels: the EU-factor search needs every annotator present")
        correct = pixel_correctness(ann, pred).sum(1)
        if correct.shape != a.shape:
            raise InputError(f"annotations {ann.shape} do not match the maps {a.shape}")
        self._platt = None
        for hist, f in zip(self._hist, self.factors, strict=True):
            hist.add((a + f * e) / (1 + f), correct, ann.shape[1])  # ACE is scale-free; this keeps u <= max(AU, EU)
        n = a.shape[0]
        v = annotator_variance(ann).reshape(n, -1)
        a, e = a.reshape(n, -1), e.reshape(n, -1)
        vc, ac, ec = (x - x.mean(1, keepdims=True) for x in (v, a, e))
        self._moments.append(np.stack([
            (vc * vc).sum(1), (ac * ac).sum(1), (ec * ec).sum(1), (ac * ec).sum(1), (vc * ac).sum(1),
            (vc * ec).sum(1), np.full(n, a.shape[1], dtype=np.float64), np.abs(a).max(1), np.abs(e).max(1),
            np.abs(v).max(1)], axis=1))

    def _fits(self) -> list[tuple[float, float]]:
        """The Platt (a, b) of TU' for every factor (docs/method.md §3 CAL), fitted once after the last ``add``."""
        if self._platt is None:
            self._platt = [hist.fit_platt() for hist in self._hist]
        return self._platt

    def ace(self) -> np.ndarray:
        """Validation global ACE of TU' for every factor (docs/method.md §3 CAL)."""
        if not self._moments:
            raise InputError("no validation batches were added")
        out = np.empty(self.factors.size)
        for i, (hist, (a, b)) in enumerate(zip(self._hist, self._fits(), strict=True)):
            s = hist.sums
            keep = s[:, 2] > 0
            pairs, correct = s[keep, 2], s[keep, 4]
            conf = platt_confidence(s[keep, 3] / pairs, a, b)
            idx = np.clip((conf * self.ace_bins).astype(np.int64), 0, self.ace_bins - 1)
            sums = np.stack([np.bincount(idx, weights=w, minlength=self.ace_bins)
                             for w in (pairs, correct, pairs * conf)], axis=1)
            out[i] = ace_from_sums(sums)
        return out

    def nll(self) -> np.ndarray:
        """Validation mean negative log-likelihood of the correctness under the Platt-scaled TU' for every factor
        (the correct pairs' term is exact, the log-partition term evaluated at each bin's mean u)."""
        if not self._moments:
            raise InputError("no validation batches were added")
        out = np.empty(self.factors.size)
        for i, (hist, (a, b)) in enumerate(zip(self._hist, self._fits(), strict=True)):
            s = hist.sums
            keep = s[:, 2] > 0
            z = -a * s[keep, 3] / s[keep, 2] + b
            correct_z = -a * s[:, 5].sum() + b * s[:, 4].sum()
            out[i] = (np.sum(s[keep, 2] * np.logaddexp(0, z)) - correct_z) / s[:, 2].sum()
        return out

    def ncc(self) -> np.ndarray:
        """Validation mean NCC of TU' with the annotator variance for every factor (docs/method.md §3 AMB)."""
        if not self._moments:
            raise InputError("no validation batches were added")
        svv, saa, see, sae, sva, sve, n, max_a, max_e, max_v = np.concatenate(self._moments).T
        f = self.factors[:, None]
        sxx = np.maximum(saa + 2 * f * sae + f * f * see, 0.0)
        sx, sv = np.sqrt(sxx), np.sqrt(svv)
        tol = 1e-12 * np.sqrt(n)
        ok = (sx > tol * np.maximum(1, max_a + f * max_e)) & (sv > tol * np.maximum(1, max_v))
        values = np.where(ok, (sva + f * sve) / np.where(ok, sx * sv, 1.0), 0.0)
        return values.mean(1)

    def performance(self, task: SearchTask) -> np.ndarray:
        """Validation performance of TU' per factor for ``task``: ACE for CAL, the log-loss for CAL_NLL, NCC for
        AMB."""
        if task == "CAL":
            return self.ace()
        if task == "CAL_NLL":
            return self.nll()
        if task == "AMB":
            return self.ncc()
        raise InputError(f"the EU factor can be chosen for CAL, CAL_NLL or AMB on validation, not {task!r} "
                         "(validation holds no OOD images, and EU's AUROC does not depend on the factor)")

    def best(self, task: SearchTask) -> float:
        """The factor with the best validation performance for ``task`` (lowest ACE or log-loss, highest NCC); the
        smallest such factor on ties."""
        p = self.performance(task)
        score = p if task == "AMB" else -p
        return float(self.factors[int(np.argmax(score))])
