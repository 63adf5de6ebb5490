"""Active-learning scores: how useful it would be to label each item. HIGHER = more useful.

Inputs are NumPy arrays of class probabilities (softmax outputs):
- one prediction: (N, C) per item, or (N, C, H, W) per pixel;
- several stochastic predictions: (T, N, C[, H, W]) MC-dropout samples or (A, N, C[, H, W]) predictions
  under A test-time augmentations (already mapped back to the original geometry).

Per-pixel scores are reduced to one number per item by `reduce_per_item`: the mean over all pixels, or over
the foreground only (the pixels whose most likely class is not background), so that a small structure on a
large easy background is not drowned out.

Selections that are not scores (core-set, hybrid) return indices in the order they were picked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Reduction = Literal["mean", "foreground"]

_EPS = 1e-12


def random_scores(n: int, seed: int | None = 0) -> np.ndarray:
    """(n,) uniform random scores in [0, 1), reproducible from `seed`."""
    return np.random.default_rng(seed).random(n)


def _check_probs(probs: np.ndarray, name: str = "probs") -> np.ndarray:
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim < 2:
        raise ValueError(f"{name} must be (N, C[, ...]), got shape {p.shape}")
    return p


def reduce_per_item(
    score_map: np.ndarray, reduction: Reduction = "mean", foreground: np.ndarray | None = None
) -> np.ndarray:
    """(N, ...) per-pixel scores -> (N,). With reduction="foreground", the mean over the pixels where
    `foreground` (bool, same shape) is true; an item without foreground pixels falls back to its mean over
    all pixels (a model that finds no structure at all is not confident about it)."""
    s = np.asarray(score_map, dtype=np.float64)
    if s.ndim == 1:
        return s
    flat = s.reshape(len(s), -1)
    mean_all = flat.mean(axis=1)
    if reduction == "mean":
        return mean_all
    if reduction != "foreground":
        raise ValueError(f"unknown reduction {reduction!r}")
    if foreground is None:
        raise ValueError("reduction='foreground' needs a foreground mask")
    fg = np.asarray(foreground, dtype=bool).reshape(len(s), -1)
    if fg.shape != flat.shape:
        raise ValueError(f"foreground shape {np.shape(foreground)} does not match scores {s.shape}")
    count = fg.sum(axis=1)
    total = np.where(fg, flat, 0.0).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), mean_all)


def predicted_foreground(probs: np.ndarray, background: int = 0) -> np.ndarray:
    """(N, C, ...) probabilities -> (N, ...) bool: pixels whose most likely class is not `background`."""
    return np.asarray(probs).argmax(axis=1) != background


def _reduce(score_map: np.ndarray, probs: np.ndarray, reduction: Reduction, background: int) -> np.ndarray:
    fg = predicted_foreground(probs, background) if reduction == "foreground" and probs.ndim > 2 else None
    return reduce_per_item(score_map, reduction if fg is not None else "mean", fg)


def least_confidence(probs: np.ndarray, reduction: Reduction = "mean", background: int = 0) -> np.ndarray:
    """1 - max_c p_c. probs: (N, C[, H, W]) -> (N,)."""
    p = _check_probs(probs)
    return _reduce(1.0 - p.max(axis=1), p, reduction, background)


def margin(probs: np.ndarray, reduction: Reduction = "mean", background: int = 0) -> np.ndarray:
    """1 - (p_(1) - p_(2)), the gap between the two most likely classes. probs: (N, C[, H, W]) -> (N,)."""
    p = _check_probs(probs)
    if p.shape[1] < 2:
        raise ValueError("margin needs at least two classes")
    top2 = -np.partition(-p, 1, axis=1)[:, :2]
    return _reduce(1.0 - (top2[:, 0] - top2[:, 1]), p, reduction, background)


def entropy_map(probs: np.ndarray) -> np.ndarray:
    """Shannon entropy in nats over the class axis 1: (N, C, ...) -> (N, ...)."""
    p = np.asarray(probs, dtype=np.float64)
    return -(p * np.log(p + _EPS)).sum(axis=1)


def entropy(probs: np.ndarray, reduction: Reduction = "mean", background: int = 0) -> np.ndarray:
    """Predictive entropy (nats). probs: (N, C[, H, W]) -> (N,)."""
    p = _check_probs(probs)
    return _reduce(entropy_map(p), p, reduction, background)


def _check_samples(samples: np.ndarray) -> np.ndarray:
    s = np.asarray(samples, dtype=np.float64)
    if s.ndim < 3:
        raise ValueError(f"samples must be (T, N, C[, ...]), got shape {s.shape}")
    return s


def bald(samples: np.ndarray, reduction: Reduction = "mean", background: int = 0) -> np.ndarray:
    """BALD mutual information H[mean_t p_t] - mean_t H[p_t] (nats, >= 0; 0 when all samples agree).
    samples: (T, N, C[, H, W]) MC-dropout probabilities -> (N,)."""
    s = _check_samples(samples)
    mean = s.mean(axis=0)
    mean_h = np.mean([entropy_map(p) for p in s], axis=0)
    mi = np.clip(entropy_map(mean) - mean_h, 0.0, None)
    return _reduce(mi, mean, reduction, background)


def sample_variance(samples: np.ndarray, reduction: Reduction = "mean", background: int = 0) -> np.ndarray:
    """Variance across samples of each class probability, averaged over classes.
    samples: (T, N, C[, H, W]) -> (N,)."""
    s = _check_samples(samples)
    var = s.var(axis=0).mean(axis=1)
    return _reduce(var, s.mean(axis=0), reduction, background)


def mc_variance(samples: np.ndarray, reduction: Reduction = "mean", background: int = 0) -> np.ndarray:
    """MC-dropout variance. samples: (T, N, C[, H, W]) -> (N,)."""
    return sample_variance(samples, reduction, background)


def tta_variance(predictions: np.ndarray, reduction: Reduction = "mean", background: int = 0) -> np.ndarray:
    """Test-time-augmentation variance. predictions: (A, N, C[, H, W]) probabilities, mapped back to the
    un-augmented geometry -> (N,)."""
    return sample_variance(predictions, reduction, background)


def _as_mask(labelled: np.ndarray | None, n: int) -> np.ndarray:
    """Indices or a boolean mask of length n -> boolean mask."""
    if labelled is None:
        return np.zeros(n, dtype=bool)
    lab = np.asarray(labelled)
    if lab.dtype == bool:
        if lab.shape != (n,):
            raise ValueError(f"labelled mask must have shape ({n},), got {lab.shape}")
        return lab.copy()
    mask = np.zeros(n, dtype=bool)
    mask[lab.astype(np.int64)] = True
    return mask


def _sq_dist_to(x: np.ndarray, x_sq: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances (N,) from every row of x to one centre (D,)."""
    return np.maximum(x_sq - 2.0 * (x @ centre) + float(centre @ centre), 0.0)


def min_sq_distances(embeddings: np.ndarray, centres: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """(N,) squared distance from each embedding (N, D) to its nearest centre (M, D); +inf when M = 0."""
    x = np.asarray(embeddings, dtype=np.float64)
    c = np.asarray(centres, dtype=np.float64)
    out = np.full(len(x), np.inf)
    if len(c) == 0:
        return out
    x_sq = np.einsum("nd,nd->n", x, x)
    for i in range(0, len(c), chunk):
        cc = c[i : i + chunk]
        d = x_sq[:, None] - 2.0 * (x @ cc.T) + np.einsum("md,md->m", cc, cc)[None, :]
        out = np.minimum(out, np.maximum(d, 0.0).min(axis=1))
    return out


def k_center_greedy(
    embeddings: np.ndarray,
    labelled: np.ndarray | None,
    k: int,
    *,
    candidates: np.ndarray | None = None,
) -> np.ndarray:
    """Core-set selection (Sener & Savarese 2018): repeatedly pick the point farthest from everything labelled
    or already picked. embeddings: (N, D); labelled: indices or (N,) bool mask of labelled points (they are
    never picked); candidates: optional indices/mask restricting what may be picked (distances still count
    every labelled point). Returns up to k indices in pick order; ties go to the lowest index. With nothing
    labelled, the first pick is the point farthest from the mean. O(k N D): one distance update per pick."""
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be (N, D), got shape {x.shape}")
    n = len(x)
    lab = _as_mask(labelled, n)
    allowed = ~lab if candidates is None else (_as_mask(candidates, n) & ~lab)
    k = int(min(k, allowed.sum()))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    x_sq = np.einsum("nd,nd->n", x, x)
    picked = np.empty(k, dtype=np.int64)
    start = 0
    if lab.any():
        min_d = min_sq_distances(x, x[lab])
    else:
        # No reference point yet: start from the point farthest from the centroid (deterministic).
        to_mean = np.where(allowed, _sq_dist_to(x, x_sq, x.mean(axis=0)), -np.inf)
        picked[0] = int(np.argmax(to_mean))
        min_d = _sq_dist_to(x, x_sq, x[picked[0]])
        start = 1
    masked = np.where(allowed, min_d, -np.inf)
    if start:
        masked[picked[0]] = -np.inf
    for i in range(start, k):
        j = int(np.argmax(masked))
        picked[i] = j
        masked = np.minimum(masked, _sq_dist_to(x, x_sq, x[j]))
        masked[j] = -np.inf
    return picked


def normalise(scores: np.ndarray) -> np.ndarray:
    """Min-max scale to [0, 1]; a constant vector becomes zeros."""
    s = np.asarray(scores, dtype=np.float64)
    if s.size == 0:
        return s
    lo, hi = float(np.min(s)), float(np.max(s))
    return np.zeros_like(s) if hi - lo <= 0 else (s - lo) / (hi - lo)


def hybrid_select(
    uncertainty: np.ndarray,
    embeddings: np.ndarray,
    labelled: np.ndarray | None,
    k: int,
    *,
    pool_factor: float = 3.0,
) -> np.ndarray:
    """Uncertainty-weighted diversity: take the ceil(pool_factor x k) most uncertain unlabelled points and
    run k-centre greedy among them (labelled points still count as centres). uncertainty: (N,), higher =
    more uncertain; embeddings: (N, D). Returns up to k indices in pick order."""
    u = np.asarray(uncertainty, dtype=np.float64)
    n = len(u)
    lab = _as_mask(labelled, n)
    unl = np.flatnonzero(~lab)
    m = int(min(len(unl), max(k, np.ceil(pool_factor * k))))
    if m == 0 or k <= 0:
        return np.zeros(0, dtype=np.int64)
    # Stable sort on -u so that ties keep index order.
    top = unl[np.argsort(-u[unl], kind="stable")[:m]]
    return k_center_greedy(embeddings, lab, k, candidates=top)


def hybrid_scores(
    uncertainty: np.ndarray, embeddings: np.ndarray, labelled: np.ndarray | None, weight: float = 0.5
) -> np.ndarray:
    """A score for ranking: (1 - weight) x normalised uncertainty + weight x normalised distance to the
    nearest labelled point. (N,) -> (N,); labelled points get -inf."""
    u = np.asarray(uncertainty, dtype=np.float64)
    lab = _as_mask(labelled, len(u))
    d = min_sq_distances(embeddings, np.asarray(embeddings)[lab])
    d = np.sqrt(np.where(np.isfinite(d), d, 0.0)) if lab.any() else np.zeros(len(u))
    unl = ~lab
    out = np.full(len(u), -np.inf)
    if unl.any():
        out[unl] = (1.0 - weight) * normalise(u[unl]) + weight * normalise(d[unl])
    return out


@dataclass(frozen=True)
class Disagreement:
    """score: (N,) disagreement in [0, 1] (1 - Dice, or the label mismatch rate); needs_further_reader:
    (N,) bool, score above the threshold: such a case is routed to one more reader."""

    score: np.ndarray
    needs_further_reader: np.ndarray


def mask_disagreement(a: np.ndarray, b: np.ndarray, classes: tuple[int, ...] | None = None) -> np.ndarray:
    """1 - mean foreground Dice between two label maps per item. a, b: (N, H, W) (or (N, ...)) integer
    labels; classes: the foreground classes (default: every non-zero class in either). A class absent from
    both maps of an item is skipped; an item where every class is absent from both scores 0."""
    la, lb = np.asarray(a), np.asarray(b)
    if la.shape != lb.shape:
        raise ValueError(f"label shapes differ: {la.shape} vs {lb.shape}")
    if classes is None:
        classes = tuple(int(c) for c in np.union1d(np.unique(la), np.unique(lb)) if c != 0)
    n = len(la)
    fa, fb = la.reshape(n, -1), lb.reshape(n, -1)
    dice_sum = np.zeros(n)
    present = np.zeros(n)
    for c in classes:
        ma, mb = fa == c, fb == c
        total = ma.sum(axis=1) + mb.sum(axis=1)
        inter = (ma & mb).sum(axis=1)
        has = total > 0
        dice_sum += np.where(has, 2.0 * inter / np.maximum(total, 1), 0.0)
        present += has
    mean_dice = np.where(present > 0, dice_sum / np.maximum(present, 1), 1.0)
    return 1.0 - mean_dice


def label_disagreement(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mismatch rate between two readers' labels per item. a, b: (N,) or (N, F) (e.g. one plane label per
    frame of a clip) integer labels -> (N,) in [0, 1]."""
    la, lb = np.asarray(a), np.asarray(b)
    if la.shape != lb.shape:
        raise ValueError(f"label shapes differ: {la.shape} vs {lb.shape}")
    ne = (la != lb).reshape(len(la), -1)
    return ne.mean(axis=1).astype(np.float64)


def disagreement(
    a: np.ndarray,
    b: np.ndarray,
    *,
    kind: Literal["mask", "label"] = "mask",
    threshold: float | None = None,
    classes: tuple[int, ...] | None = None,
) -> Disagreement:
    """Disagreement between model and observer, or observer and observer, with the routing flag.
    kind="mask": a, b are (N, H, W) label maps, score 1 - Dice, default threshold 0.2 (Dice < 0.8);
    kind="label": a, b are (N,) or (N, F) class labels, score the mismatch rate, default threshold 0
    (any mismatch). The flag is score > threshold."""
    if kind == "mask":
        score = mask_disagreement(a, b, classes)
        thr = 0.2 if threshold is None else threshold
    elif kind == "label":
        score = label_disagreement(a, b)
        thr = 0.0 if threshold is None else threshold
    else:
        raise ValueError(f"unknown kind {kind!r}")
    return Disagreement(score, score > thr)
