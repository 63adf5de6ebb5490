"""Collect what a study's active-learning strategy needs while a model runs over the pool, then score
cases with ml.active_learning. Only the evidence the strategy uses is computed (MC dropout and TTA cost
several forward passes)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ml.active_learning.strategies import Observers, PoolPrediction, case_scores

MC_SAMPLES = 8
EMBED_GRID = 6


@dataclass
class PoolEvidence:
    """Per-item evidence over every case of one inference run, in case order."""

    case_ids: list[np.ndarray] = field(default_factory=list)
    scores: list[np.ndarray] = field(default_factory=list)
    embeddings: list[np.ndarray] = field(default_factory=list)
    labels: list[np.ndarray] = field(default_factory=list)
    observer: list[np.ndarray] = field(default_factory=list)
    has_observer: list[np.ndarray] = field(default_factory=list)


def _embedding(probs: np.ndarray) -> np.ndarray:
    """(N, C[, H, W]) probabilities -> (N, D): class probabilities pooled on a coarse grid (maps) or as is."""
    if probs.ndim == 2:
        return probs.astype(np.float32)
    tensor = torch.from_numpy(np.ascontiguousarray(probs, dtype=np.float32))
    pooled = torch.nn.functional.adaptive_avg_pool2d(tensor, EMBED_GRID)
    return pooled.reshape(len(probs), -1).numpy()


def _uncertainty_scores(strategy: str, model: torch.nn.Module, inputs: torch.Tensor) -> np.ndarray:
    """Per-item BALD / MC variance / TTA variance over `inputs` (N, 1, H, W), in small batches; for the
    3D segmenter over its (P, S, H, W) volumes, per slice, in the same item order as its probabilities."""
    from ml.segmentation.deepmedic import DeepMedic
    from ml.training.uncertainty import mc_dropout_predict, tta_predict

    if isinstance(model, DeepMedic):
        from atrium.learning.volume_segmenter import uncertainty_scores

        return uncertainty_scores(strategy, model, inputs.numpy(), n=MC_SAMPLES)

    out = []
    for start in range(0, len(inputs), 8):
        x = inputs[start : start + 8]
        with torch.no_grad():
            result = (
                tta_predict(model, x)
                if strategy == "tta_variance"
                else mc_dropout_predict(model, x, n=MC_SAMPLES)
            )
        values = result.mutual_info if strategy == "bald" else result.variance
        out.append(values.detach().float().reshape(len(x), -1).mean(dim=1).numpy())
    return np.concatenate(out).astype(np.float64)


def add_case(
    evidence: PoolEvidence,
    *,
    strategy: str,
    case_id: int,
    probs: np.ndarray,
    model: torch.nn.Module | None = None,
    inputs: torch.Tensor | None = None,
    observer: np.ndarray | None = None,
    has_observer: np.ndarray | None = None,
) -> None:
    """Record one case's items. probs: (N, C[, H, W]); observer: (N[, H, W]) first observer labels."""
    n = len(probs)
    evidence.case_ids.append(np.full(n, case_id, dtype=np.int64))
    if strategy in {"random", "least_confidence", "margin", "entropy"}:
        from ml.active_learning import scoring

        fn = {
            "least_confidence": scoring.least_confidence,
            "margin": scoring.margin,
            "entropy": scoring.entropy,
        }
        evidence.scores.append(
            fn[strategy](probs, "foreground" if probs.ndim == 4 else "mean")
            if strategy in fn
            else np.zeros(n)
        )
    elif strategy in {"bald", "mc_variance", "tta_variance"}:
        if model is None or inputs is None:
            raise ValueError(f"strategy {strategy!r} needs the model and its inputs")
        evidence.scores.append(_uncertainty_scores(strategy, model, inputs))
    elif strategy in {"coreset", "hybrid"}:
        evidence.embeddings.append(_embedding(probs))
        from ml.active_learning import scoring

        evidence.scores.append(scoring.entropy(probs, "mean"))
    elif strategy == "disagreement":
        evidence.labels.append(probs.argmax(axis=1).astype(np.uint8))
        shape = probs.shape[:1] + probs.shape[2:]
        evidence.observer.append(observer if observer is not None else np.zeros(shape, np.uint8))
        evidence.has_observer.append(has_observer if has_observer is not None else np.zeros(n, bool))
    else:
        raise ValueError(f"unknown active-learning strategy {strategy!r}")


@dataclass
class RankedCases:
    scores: dict[int, float]
    needs_further_reader: set[int]


def rank_cases(strategy: str, evidence: PoolEvidence, *, labelled: list[int], seed: int) -> RankedCases:
    if not evidence.case_ids:
        return RankedCases({}, set())
    case_ids = np.concatenate(evidence.case_ids)
    prediction = PoolPrediction()
    observers = None
    if strategy in {"least_confidence", "margin", "entropy", "bald", "mc_variance", "tta_variance"}:
        prediction.scores[strategy] = np.concatenate(evidence.scores)
    elif strategy == "random":
        prediction.scores["_n"] = np.zeros(len(case_ids))
    elif strategy in {"coreset", "hybrid"}:
        prediction.embeddings = np.concatenate(evidence.embeddings)
        prediction.scores["entropy"] = np.concatenate(evidence.scores)
    elif strategy == "disagreement":
        prediction.labels = np.concatenate(evidence.labels)
        observers = Observers(
            first=np.concatenate(evidence.observer), has_first=np.concatenate(evidence.has_observer)
        )
    result = case_scores(
        strategy,
        prediction,
        case_ids=case_ids,
        labelled_cases=np.asarray(labelled, dtype=np.int64),
        observers=observers,
        aggregate="mean",
        seed=seed,
    )
    scores = {int(c): float(s) for c, s in zip(result.cases, result.scores, strict=True)}
    flagged = {int(c) for c, f in zip(result.cases, result.needs_further_reader, strict=True) if f}
    return RankedCases(scores, flagged)
