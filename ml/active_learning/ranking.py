"""The annotation queue: rank cases by score under the study's reads-per-case rule, and pick a batch by
strategy name."""

from __future__ import annotations

import numpy as np

from ml.active_learning import scoring
from ml.active_learning.aggregate import Aggregation
from ml.active_learning.strategies import STRATEGIES, Observers, PoolPrediction, case_scores


def rank_queue(
    case_ids: np.ndarray,
    scores: np.ndarray,
    already_assigned_counts: np.ndarray | None = None,
    reads_per_case: int | np.ndarray = 1,
    *,
    exclude: np.ndarray | None = None,
    limit: int | None = None,
) -> np.ndarray:
    """Case ids in the order they should be handed out.

    case_ids: (M,) unique ids; scores: (M,) higher first (NaN last); already_assigned_counts: (M,) reads
    already assigned (default 0); reads_per_case: the study's count, or (M,) per case (e.g. +1 for a case
    the disagreement strategy routed to a further reader). A case with as many assignments as reads is
    left out, as are the ids in `exclude` (e.g. the cases this observer has already read). Ties in score go
    to the case with fewer assignments, then to the smaller id. `limit`: return only the first `limit`.
    Vectorised: one lexsort, O(M log M).
    """
    ids = np.asarray(case_ids)
    s = np.asarray(scores, dtype=np.float64)
    if ids.ndim != 1 or s.shape != ids.shape:
        raise ValueError(f"case_ids and scores must be (M,) of equal length, got {ids.shape}, {s.shape}")
    assigned = (
        np.zeros(len(ids), dtype=np.int64)
        if already_assigned_counts is None
        else np.asarray(already_assigned_counts, dtype=np.int64)
    )
    reads = np.broadcast_to(np.asarray(reads_per_case, dtype=np.int64), ids.shape)
    if assigned.shape != ids.shape:
        raise ValueError(f"already_assigned_counts must be (M,), got {assigned.shape}")
    open_ = assigned < reads
    if exclude is not None and len(exclude):
        open_ &= ~np.isin(ids, np.asarray(exclude))
    idx = np.flatnonzero(open_)
    sc = s[idx]
    nan = np.isnan(sc)  # the primary key: NaN ranks after every real score, -inf included
    order = idx[np.lexsort((ids[idx], assigned[idx], np.where(nan, 0.0, -sc), nan))]
    if limit is not None:
        order = order[: max(int(limit), 0)]
    return ids[order]


def select_batch(
    strategy_name: str,
    prediction: PoolPrediction,
    k: int,
    *,
    case_ids: np.ndarray | None = None,
    labelled_cases: np.ndarray | None = None,
    observers: Observers | None = None,
    aggregate: Aggregation = "mean",
    topk: int = 3,
    reduction: scoring.Reduction = "mean",
    seed: int | None = 0,
    hybrid_factor: float = 3.0,
) -> np.ndarray:
    """The next k case ids to label with the named strategy (one of STRATEGIES), best first.

    prediction: the model's output on the pool items (see PoolPrediction for which strategy needs which
    field); case_ids: (N,) case of each item (default: each item is a case); labelled_cases: already
    labelled (never selected; core-set/hybrid keep away from them). Core-set and hybrid run k-centre
    greedy for exactly k picks; the others take the top k aggregated scores.
    """
    if strategy_name not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy_name!r}; expected one of {STRATEGIES}")
    cs = case_scores(
        strategy_name, prediction, case_ids=case_ids, labelled_cases=labelled_cases, observers=observers,
        aggregate=aggregate, topk=topk, reduction=reduction, seed=seed, max_ordered=max(int(k), 0),
        hybrid_factor=hybrid_factor,
    )  # fmt: skip
    return rank_queue(cs.cases, cs.scores, limit=k)
