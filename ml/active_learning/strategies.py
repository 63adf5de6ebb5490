"""The named strategies (the strings stored in the platform's Study.al_strategy) and case-level scores.

A strategy reads what the model produced on the unlabelled pool (`PoolPrediction`) and, where it needs
them, the observers' annotations; it yields one score per case (higher = label it sooner). The score-based
strategies score items (slices, frames) and aggregate to cases; core-set and hybrid are selections, whose
pick order is turned into a score for the queue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ml.active_learning import scoring
from ml.active_learning.aggregate import Aggregation, aggregate_by_case, aggregate_embeddings

STRATEGIES: tuple[str, ...] = (
    "random",
    "least_confidence",
    "margin",
    "entropy",
    "bald",
    "mc_variance",
    "tta_variance",
    "coreset",
    "hybrid",
    "disagreement",
)
SCORE_STRATEGIES = frozenset(STRATEGIES) - {"coreset", "hybrid"}


@dataclass
class PoolPrediction:
    """What a model produced on N pool items (slices or frames); each strategy needs only some fields.

    probs: (N, C[, H, W]) softmax probabilities; mc_samples: (T, N, C[, H, W]) MC-dropout probabilities;
    tta_samples: (A, N, C[, H, W]) probabilities under A test-time augmentations, mapped back;
    embeddings: (N, D) features for core-set/hybrid; labels: (N[, H, W]) the model's hard prediction
    (default: argmax of probs), for the disagreement strategy.
    """

    probs: np.ndarray | None = None
    mc_samples: np.ndarray | None = None
    tta_samples: np.ndarray | None = None
    embeddings: np.ndarray | None = None
    labels: np.ndarray | None = None
    scores: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        for a in (self.probs, self.embeddings, self.labels, *self.scores.values()):
            if a is not None:
                return len(a)
        for s in (self.mc_samples, self.tta_samples):
            if s is not None:
                return int(np.shape(s)[1])
        return 0

    def hard_labels(self) -> np.ndarray:
        if self.labels is not None:
            return np.asarray(self.labels)
        if self.probs is not None:
            return np.asarray(self.probs).argmax(axis=1)
        raise ValueError("the prediction has neither labels nor probs")


@dataclass(frozen=True)
class Observers:
    """Existing annotations of pool items, for the disagreement strategy. first: (N[, H, W]) labels;
    second: a second observer's labels of the same items (observer vs observer) or None (model vs first);
    has_first / has_second: (N,) bool, which items carry that annotation (default: all)."""

    first: np.ndarray
    second: np.ndarray | None = None
    has_first: np.ndarray | None = None
    has_second: np.ndarray | None = None


def _need(value: np.ndarray | None, strategy: str, field: str) -> np.ndarray:
    if value is None:
        raise ValueError(f"strategy {strategy!r} needs PoolPrediction.{field}")
    return np.asarray(value)


def disagreement_scores(
    prediction: PoolPrediction,
    observers: Observers,
    *,
    kind: Literal["auto", "mask", "label"] = "auto",
    threshold: float | None = None,
) -> scoring.Disagreement:
    """Per-item disagreement: observer vs observer where a second reading exists, else model vs observer.
    Items with no observer annotation score 0 and are not flagged. kind="auto": maps (ndim >= 3) are
    masks, anything else labels."""
    first = np.asarray(observers.first)
    n = len(first)
    has_first = np.ones(n, bool) if observers.has_first is None else np.asarray(observers.has_first, bool)
    resolved: Literal["mask", "label"] = ("mask" if first.ndim >= 3 else "label") if kind == "auto" else kind
    model = prediction.hard_labels()
    vs_model = scoring.disagreement(model, first, kind=resolved, threshold=threshold)
    score, flag = vs_model.score, vs_model.needs_further_reader
    if observers.second is not None:
        has_second = (
            np.ones(n, bool) if observers.has_second is None else np.asarray(observers.has_second, bool)
        )
        vs_obs = scoring.disagreement(observers.second, first, kind=resolved, threshold=threshold)
        both = has_first & has_second
        score = np.where(both, vs_obs.score, score)
        flag = np.where(both, vs_obs.needs_further_reader, flag)
    return scoring.Disagreement(np.where(has_first, score, 0.0), np.where(has_first, flag, False))


def item_scores(
    strategy: str,
    prediction: PoolPrediction,
    *,
    observers: Observers | None = None,
    reduction: scoring.Reduction = "mean",
    seed: int | None = 0,
) -> np.ndarray:
    """(N,) per-item scores of a score-based strategy (not "coreset"/"hybrid")."""
    p = prediction
    if strategy in p.scores and strategy != "disagreement":
        return np.asarray(p.scores[strategy], dtype=np.float64)
    if strategy == "random":
        return scoring.random_scores(len(p), seed)
    if strategy == "least_confidence":
        return scoring.least_confidence(_need(p.probs, strategy, "probs"), reduction)
    if strategy == "margin":
        return scoring.margin(_need(p.probs, strategy, "probs"), reduction)
    if strategy == "entropy":
        return scoring.entropy(_need(p.probs, strategy, "probs"), reduction)
    if strategy == "bald":
        return scoring.bald(_need(p.mc_samples, strategy, "mc_samples"), reduction)
    if strategy == "mc_variance":
        return scoring.mc_variance(_need(p.mc_samples, strategy, "mc_samples"), reduction)
    if strategy == "tta_variance":
        return scoring.tta_variance(_need(p.tta_samples, strategy, "tta_samples"), reduction)
    if strategy == "disagreement":
        if observers is None:
            raise ValueError("strategy 'disagreement' needs observer annotations")
        return disagreement_scores(p, observers).score
    if strategy in ("coreset", "hybrid"):
        raise ValueError(f"{strategy!r} is a selection, not a per-item score; use case_scores/select_batch")
    raise ValueError(f"unknown strategy {strategy!r}; expected one of {STRATEGIES}")


def uncertainty_for_hybrid(prediction: PoolPrediction, reduction: scoring.Reduction = "mean") -> np.ndarray:
    """The uncertainty the hybrid strategy weights diversity by: BALD when MC samples exist, else entropy
    (or the precomputed "bald"/"entropy" entry of prediction.scores)."""
    for name in ("bald", "entropy"):
        if name in prediction.scores:
            return np.asarray(prediction.scores[name], dtype=np.float64)
    if prediction.mc_samples is not None:
        return scoring.bald(prediction.mc_samples, reduction)
    return scoring.entropy(_need(prediction.probs, "hybrid", "probs or mc_samples"), reduction)


def order_to_scores(order: np.ndarray, n: int, rest: np.ndarray | None = None) -> np.ndarray:
    """Turn a pick order (indices) into (n,) scores that rank in that order: picked items score in (1, 2],
    the others `rest` scaled to [0, 1) (default 0)."""
    out = np.zeros(n) if rest is None else 0.999 * scoring.normalise(rest)
    m = len(order)
    if m:
        out[np.asarray(order)] = 2.0 - np.arange(m) / m
    return out


@dataclass(frozen=True)
class CaseScores:
    """cases: (M,) unlabelled case ids, sorted; scores: (M,), higher = label sooner; needs_further_reader:
    (M,) bool, set by the disagreement strategy (a case whose readings disagree gets one more reader)."""

    cases: np.ndarray
    scores: np.ndarray
    needs_further_reader: np.ndarray


def case_scores(
    strategy: str,
    prediction: PoolPrediction,
    *,
    case_ids: np.ndarray | None = None,
    labelled_cases: np.ndarray | None = None,
    observers: Observers | None = None,
    aggregate: Aggregation = "mean",
    topk: int = 3,
    reduction: scoring.Reduction = "mean",
    seed: int | None = 0,
    max_ordered: int = 2000,
    hybrid_factor: float = 3.0,
) -> CaseScores:
    """Scores of the unlabelled cases. case_ids: (N,) the case of each pool item (default: each item is
    its own case); labelled_cases: ids of cases already labelled (excluded from the output; core-set and
    hybrid measure diversity against them, so their items should be in `prediction` with embeddings).
    Core-set/hybrid: the greedy pick order of the first `max_ordered` cases, then the rest by distance to
    what is labelled or picked."""
    n = len(prediction)
    ids = np.arange(n) if case_ids is None else np.asarray(case_ids)
    if len(ids) != n:
        raise ValueError(f"case_ids has {len(ids)} entries for {n} predicted items")
    flags_item = np.zeros(n, dtype=bool)
    if strategy in SCORE_STRATEGIES:
        if strategy == "disagreement":
            if observers is None:
                raise ValueError("strategy 'disagreement' needs observer annotations")
            d = disagreement_scores(prediction, observers)
            s, flags_item = d.score, d.needs_further_reader
        else:
            s = item_scores(strategy, prediction, observers=observers, reduction=reduction, seed=seed)
        cases, cs = aggregate_by_case(ids, s, aggregate, topk)
    elif strategy in ("coreset", "hybrid"):
        emb = _need(prediction.embeddings, strategy, "embeddings")
        cases, case_emb = aggregate_embeddings(ids, emb)
        labelled = np.zeros(len(cases), bool) if labelled_cases is None else np.isin(cases, labelled_cases)
        k = min(int((~labelled).sum()), max_ordered)
        if strategy == "coreset":
            order = scoring.k_center_greedy(case_emb, labelled, k)
        else:
            u = uncertainty_for_hybrid(prediction, reduction)
            _, cu = aggregate_by_case(ids, u, aggregate, topk)
            order = scoring.hybrid_select(cu, case_emb, labelled, k, pool_factor=hybrid_factor)
        centres = np.concatenate([case_emb[labelled], case_emb[order]])
        rest = np.sqrt(scoring.min_sq_distances(case_emb, centres)) if len(centres) else None
        if rest is not None:
            rest = np.where(np.isfinite(rest), rest, 0.0)
        cs = order_to_scores(order, len(cases), rest)
    else:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {STRATEGIES}")
    flags = np.zeros(len(cases), dtype=bool)
    if flags_item.any():
        _, f = aggregate_by_case(ids, flags_item.astype(np.float64), "max")
        flags = f > 0
    keep = np.ones(len(cases), bool) if labelled_cases is None else ~np.isin(cases, labelled_cases)
    return CaseScores(cases[keep], cs[keep], flags[keep])
