"""Active learning without humans: the synthetic ground truth is the oracle.

The loop is generic over the task. The caller supplies three functions:

- `train_fn(x, y, previous)` -> model: train on the labelled items; `previous` is the last round's model
  (None in the first round), for a warm start;
- `predict_fn(model, x)` -> PoolPrediction: what the strategy needs on those pool items;
- `evaluate_fn(model, val_x, val_y)` -> float: the validation score (segmentation: mean foreground Dice;
  classification: macro-F1), higher is better.

Items (slices, frames) belong to cases (`case_ids`); cases are what gets labelled, and n_labelled counts
cases. Each round: train, evaluate, then (except after the last) let the strategy pick `batch` more cases,
whose labels the oracle reveals.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from ml.active_learning.aggregate import Aggregation
from ml.active_learning.ranking import select_batch
from ml.active_learning.scoring import Reduction
from ml.active_learning.strategies import STRATEGIES, Observers, PoolPrediction


@dataclass
class LearningCurve:
    """Validation score against the number of labelled cases; selected[r]: case ids labelled in round r
    (round 0: the random initial set)."""

    strategy: str
    n_labelled: list[int] = field(default_factory=list)
    score: list[float] = field(default_factory=list)
    selected: list[list[Any]] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (case ids become plain Python scalars)."""
        d = asdict(self)
        d["selected"] = [[np.asarray(c).item() for c in r] for r in self.selected]
        return d


def initial_cases(cases: np.ndarray, n: int, seed: int) -> np.ndarray:
    """The random starting set: n of the unique case ids, the same for every strategy with this seed."""
    return np.random.default_rng(seed).choice(
        np.unique(cases), size=min(n, len(np.unique(cases))), replace=False
    )


def _subset_observers(obs: Observers | None, idx: np.ndarray) -> Observers | None:
    if obs is None:
        return None

    def sub(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else np.asarray(a)[idx]

    return Observers(np.asarray(obs.first)[idx], sub(obs.second), sub(obs.has_first), sub(obs.has_second))


def simulate(
    strategy: str,
    pool_x: np.ndarray,
    pool_y: np.ndarray,
    val_x: np.ndarray,
    val_y: np.ndarray,
    *,
    train_fn: Callable[[np.ndarray, np.ndarray, Any], Any],
    predict_fn: Callable[[Any, np.ndarray], PoolPrediction],
    evaluate_fn: Callable[[Any, np.ndarray, np.ndarray], float],
    case_ids: np.ndarray | None = None,
    initial: int = 10,
    batch: int | Sequence[int] = 10,
    rounds: int | None = 5,
    seed: int = 0,
    aggregate: Aggregation = "mean",
    topk: int = 3,
    reduction: Reduction = "mean",
    observers: Observers | None = None,
    progress: Callable[[int, int, float], None] | None = None,
) -> LearningCurve:
    """Run `rounds` acquisition rounds of `strategy` (one of STRATEGIES) and return the learning curve,
    with rounds + 1 points (fewer if the pool runs out).

    pool_x, pool_y: (N, ...) pool items and their ground truth (revealed only for labelled cases);
    val_x, val_y: the fixed validation set; case_ids: (N,) case of each item (default: each item is a
    case); initial: random cases labelled before round 0; batch: cases added per round, or one count per
    round (then `rounds` may be None: len(batch)); observers:
    existing annotations of the pool items, for "disagreement"; progress(round, n_labelled, score) is
    called after each evaluation.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {STRATEGIES}")
    pool_x, pool_y = np.asarray(pool_x), np.asarray(pool_y)
    ids = np.arange(len(pool_x)) if case_ids is None else np.asarray(case_ids)
    if len(ids) != len(pool_x) or len(pool_y) != len(pool_x):
        raise ValueError("pool_x, pool_y and case_ids must have the same length")
    if isinstance(batch, int):
        if rounds is None:
            raise ValueError("rounds is needed when batch is a single count")
        schedule = [batch] * rounds
    else:
        schedule = [int(b) for b in batch]
        if rounds is not None and rounds != len(schedule):
            raise ValueError(f"rounds={rounds} but {len(schedule)} batch sizes")
        rounds = len(schedule)
    all_cases = np.unique(ids)
    start = time.perf_counter()
    labelled = initial_cases(all_cases, initial, seed)
    curve = LearningCurve(strategy, selected=[list(labelled)])
    model: Any = None
    for r in range(rounds + 1):
        in_lab = np.isin(ids, labelled)
        model = train_fn(pool_x[in_lab], pool_y[in_lab], model)
        score = float(evaluate_fn(model, val_x, val_y))
        curve.n_labelled.append(len(labelled))
        curve.score.append(score)
        if progress is not None:
            progress(r, len(labelled), score)
        remaining = len(all_cases) - len(labelled)
        if r == rounds or remaining == 0:
            break
        k = min(schedule[r], remaining)
        if strategy == "random":
            # No model output needed: a seeded draw per round, independent of the other strategies.
            rng = np.random.default_rng([seed, r + 1])
            picked = rng.choice(np.setdiff1d(all_cases, labelled), size=k, replace=False)
        else:
            # Diversity strategies need the labelled items' embeddings too; the others only the unlabelled.
            idx = np.arange(len(ids)) if strategy in ("coreset", "hybrid") else np.flatnonzero(~in_lab)
            pred = predict_fn(model, pool_x[idx])
            picked = select_batch(
                strategy, pred, k, case_ids=ids[idx], labelled_cases=labelled,
                observers=_subset_observers(observers, idx), aggregate=aggregate, topk=topk,
                reduction=reduction, seed=seed + r,
            )  # fmt: skip
        curve.selected.append(list(picked))
        labelled = np.concatenate([labelled, picked])
    curve.seconds = time.perf_counter() - start
    return curve


def labels_to_reach(
    n_labelled: Sequence[int] | np.ndarray, score: Sequence[float] | np.ndarray, target: float
) -> int | None:
    """The first n_labelled at which the curve reaches `target` (None if it never does)."""
    for n, s in zip(n_labelled, score, strict=True):
        if s >= target:
            return int(n)
    return None


def mean_curve(curves: list[LearningCurve]) -> tuple[list[int], list[float]]:
    """Average the scores of curves (e.g. several seeds) over the n_labelled points they share."""
    if not curves:
        return [], []
    common = sorted(set.intersection(*(set(c.n_labelled) for c in curves)))
    means = [float(np.mean([c.score[c.n_labelled.index(n)] for c in curves])) for n in common]
    return common, means


def full_data_score(
    pool_x: np.ndarray,
    pool_y: np.ndarray,
    val_x: np.ndarray,
    val_y: np.ndarray,
    *,
    train_fn: Callable[[np.ndarray, np.ndarray, Any], Any],
    evaluate_fn: Callable[[Any, np.ndarray, np.ndarray], float],
    trainings: int = 1,
) -> float:
    """The reference: a model trained on the whole labelled pool, scored on validation. trainings > 1
    calls train_fn that many times, each warm-started from the last, as the loop does over its rounds: with
    the same learner, the reference then gets the same training protocol and budget as an active-learning
    run, and differs from it only in having every label from the start."""
    x, y = np.asarray(pool_x), np.asarray(pool_y)
    model: Any = None
    for _ in range(max(int(trainings), 1)):
        model = train_fn(x, y, model)
    return float(evaluate_fn(model, val_x, val_y))


@dataclass
class Pool:
    """A simulation's data: pool items with their ground truth (the oracle) and the fixed validation set.
    pool_x: (N, ...) items; pool_y: (N, ...) their labels; case_ids: (N,) the case of each item;
    val_x, val_y: validation items and labels."""

    pool_x: np.ndarray
    pool_y: np.ndarray
    case_ids: np.ndarray
    val_x: np.ndarray
    val_y: np.ndarray

    @property
    def n_cases(self) -> int:
        return len(np.unique(self.case_ids))


class LoopFunctions(Protocol):
    """What the loop calls; ml.active_learning.learners.Learner is one."""

    def train(self, x: np.ndarray, y: np.ndarray, previous: Any) -> Any: ...

    def predict(self, model: Any, x: np.ndarray) -> PoolPrediction: ...

    def evaluate(self, model: Any, x: np.ndarray, y: np.ndarray) -> float: ...


@dataclass
class Comparison:
    """One run of several strategies on the same pool, initial set and training budget."""

    full_data_score: float
    curves: dict[str, LearningCurve]

    def labels_to_fraction(self, fraction: float = 0.95) -> dict[str, int | None]:
        """Per strategy, the labelled cases needed to reach `fraction` of the full-data score."""
        target = fraction * self.full_data_score
        return {s: labels_to_reach(c.n_labelled, c.score, target) for s, c in self.curves.items()}


# progress(strategy or "full-data", round, n_labelled, score)
ComparisonProgress = Callable[[str, int, int, float], None]


def compare_strategies(
    strategies: Sequence[str],
    pool: Pool,
    *,
    make_learner: Callable[[], LoopFunctions],
    initial: int,
    batch: int | Sequence[int],
    rounds: int | None,
    seed: int = 0,
    aggregate: Aggregation = "mean",
    progress: ComparisonProgress | None = None,
) -> Comparison:
    """The full-data score, then one `simulate` run per strategy, each with a fresh learner from
    make_learner() and the same seed (hence the same random initial set).

    The full-data score comes from a fresh learner too, trained on the whole pool as a run trains: as many
    warm-started trainings (rounds + 1) when the learner warm-starts (its `warm_start` attribute, default
    True), else once. Same model, steps and schedule, every label."""
    n_rounds = len(batch) if not isinstance(batch, int) else rounds
    if n_rounds is None:
        raise ValueError("rounds is needed when batch is a single count")
    reference = make_learner()
    full = full_data_score(
        pool.pool_x, pool.pool_y, pool.val_x, pool.val_y,
        train_fn=reference.train, evaluate_fn=reference.evaluate,
        trainings=n_rounds + 1 if getattr(reference, "warm_start", True) else 1,
    )  # fmt: skip
    if progress is not None:
        progress("full-data", 0, pool.n_cases, full)
    curves: dict[str, LearningCurve] = {}
    for strategy in strategies:
        learner = make_learner()

        def report(r: int, n: int, score: float, strategy: str = strategy) -> None:
            if progress is not None:
                progress(strategy, r, n, score)

        curves[strategy] = simulate(
            strategy, pool.pool_x, pool.pool_y, pool.val_x, pool.val_y,
            train_fn=learner.train, predict_fn=learner.predict, evaluate_fn=learner.evaluate,
            case_ids=pool.case_ids, initial=initial, batch=batch, rounds=rounds, seed=seed,
            aggregate=aggregate, progress=report,
        )  # fmt: skip
    return Comparison(full, curves)
