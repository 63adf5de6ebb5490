"""Agreement statistics between readers: Bland-Altman, paired differences, ICC, CV, kappas, F1.

Conventions:
- Paired measures (a[i], b[i]) with a NaN on either side are dropped; every result carries its n.
- Relative difference = |a - b| / ((a + b) / 2) * 100 %, i.e. relative to the pair's mean, so it is symmetric in
  the readers; pairs whose mean is 0 are left out of the relative statistics.
- SDs are sample SDs (ddof = 1); with fewer than 2 pairs they are nan.
- Confusion matrices have true (or first reader) in rows and predicted (second reader) in columns.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, NamedTuple

import numpy as np


class BlandAltman(NamedTuple):
    bias: float
    sd: float
    loa_low: float
    loa_high: float
    n: int


class Differences(NamedTuple):
    abs_mean: float
    abs_sd: float
    rel_mean_pct: float
    rel_sd_pct: float
    n: int


class ICC(NamedTuple):
    value: float
    kind: str
    n_subjects: int
    n_dropped: int


class PerClass(NamedTuple):
    """Arrays (K,) aligned with `labels`."""

    labels: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray


def _paired(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"paired measures differ in length: {x.shape} vs {y.shape}")
    keep = ~(np.isnan(x) | np.isnan(y))
    return x[keep], y[keep]


def _sd(x: np.ndarray) -> float:
    return float(np.std(x, ddof=1)) if x.size >= 2 else math.nan


def _mean(x: np.ndarray) -> float:
    return float(np.mean(x)) if x.size else math.nan


def bland_altman(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, z: float = 1.96
) -> BlandAltman:
    """Bias = mean(a - b) and limits of agreement bias +/- z * SD(a - b)."""
    x, y = _paired(a, b)
    d = x - y
    bias, sd = _mean(d), _sd(d)
    return BlandAltman(bias, sd, bias - z * sd, bias + z * sd, int(d.size))


def bland_altman_points(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(means, differences) of the valid pairs, for the Bland-Altman plot."""
    x, y = _paired(a, b)
    return (x + y) / 2.0, x - y


def paired_differences(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> Differences:
    """Absolute differences |a - b| and relative differences (% of the pair mean), mean and SD each."""
    x, y = _paired(a, b)
    d = np.abs(x - y)
    m = (x + y) / 2.0
    ok = m != 0
    rel = d[ok] / np.abs(m[ok]) * 100.0
    return Differences(_mean(d), _sd(d), _mean(rel), _sd(rel), int(d.size))


def _complete_rows(ratings: np.ndarray) -> tuple[np.ndarray, int]:
    r = np.asarray(ratings, dtype=np.float64)
    if r.ndim != 2:
        raise ValueError(f"ratings must be (subjects, raters), got shape {r.shape}")
    keep = ~np.isnan(r).any(axis=1)
    return r[keep], int((~keep).sum())


def icc(ratings: np.ndarray, kind: Literal["ICC(2,1)", "ICC(3,1)"] = "ICC(2,1)") -> ICC:
    """Single-rater ICC from a (subjects, raters) matrix (Shrout & Fleiss 1979); rows with a NaN are dropped
    and counted in n_dropped.

    ICC(2,1): two-way random effects, absolute agreement. ICC(3,1): two-way mixed effects, consistency.
    nan when fewer than 2 subjects or raters remain, or the ratings have no variance.
    """
    r, dropped = _complete_rows(ratings)
    n, k = r.shape
    if n < 2 or k < 2:
        return ICC(math.nan, kind, n, dropped)
    grand = r.mean()
    row_means, col_means = r.mean(axis=1), r.mean(axis=0)
    msr = k * float(np.sum((row_means - grand) ** 2)) / (n - 1)
    msc = n * float(np.sum((col_means - grand) ** 2)) / (k - 1)
    resid = r - row_means[:, None] - col_means[None, :] + grand
    mse = float(np.sum(resid**2)) / ((n - 1) * (k - 1))
    if kind == "ICC(2,1)":
        den = msr + (k - 1) * mse + k * (msc - mse) / n
    elif kind == "ICC(3,1)":
        den = msr + (k - 1) * mse
    else:
        raise ValueError(f"unknown ICC kind {kind!r}")
    value = (msr - mse) / den if den != 0 else math.nan
    return ICC(float(value), kind, n, dropped)


def coefficient_of_variation(ratings: np.ndarray) -> float:
    """Within-subject CV as a fraction: sqrt(mean over subjects of the per-subject variance (ddof=1)) divided by
    the grand mean (multiply by 100 for %). Rows with a NaN are dropped; nan if none remain."""
    r, _ = _complete_rows(ratings)
    if r.shape[0] == 0 or r.shape[1] < 2:
        return math.nan
    within_sd = math.sqrt(float(np.mean(np.var(r, axis=1, ddof=1))))
    grand = float(r.mean())
    return within_sd / grand if grand != 0 else math.nan


def _label_set(labels: Sequence[int] | np.ndarray | None, *arrays: np.ndarray) -> np.ndarray:
    if labels is not None:
        return np.asarray(labels)
    return np.unique(np.concatenate([np.asarray(a).ravel() for a in arrays]))


def confusion_matrix(
    y_true: Sequence[int] | np.ndarray,
    y_pred: Sequence[int] | np.ndarray,
    labels: Sequence[int] | np.ndarray | None = None,
) -> np.ndarray:
    """(K, K) int64 counts, rows = true, columns = predicted, in the order of `labels` (default: sorted union).
    Entries whose label is not in `labels` are ignored."""
    t, p = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    if t.shape != p.shape:
        raise ValueError("y_true and y_pred differ in length")
    lab = _label_set(labels, t, p)
    index = {v: i for i, v in enumerate(lab.tolist())}
    k = len(lab)
    cm = np.zeros((k, k), dtype=np.int64)
    for a, b in zip(t.tolist(), p.tolist(), strict=True):
        if a in index and b in index:
            cm[index[a], index[b]] += 1
    return cm


def cohen_kappa(
    a: Sequence[int] | np.ndarray,
    b: Sequence[int] | np.ndarray,
    labels: Sequence[int] | np.ndarray | None = None,
) -> float:
    """Unweighted Cohen's kappa between two readers' labels over the label set (default: sorted union).

    nan when chance agreement is 1 (both readers used one and the same label everywhere) or there is no item.
    """
    cm = confusion_matrix(a, b, labels).astype(np.float64)
    total = cm.sum()
    if total == 0:
        return math.nan
    po = np.trace(cm) / total
    pe = float(np.sum(cm.sum(axis=0) * cm.sum(axis=1))) / (total * total)
    if pe == 1.0:
        return math.nan
    return float((po - pe) / (1.0 - pe))


def fleiss_kappa(
    ratings: np.ndarray, labels: Sequence[int] | np.ndarray | None = None, missing: int = -1
) -> float:
    """Fleiss' kappa from a (subjects, raters) matrix of class labels. Subjects with a `missing` label are
    dropped (every remaining subject has the same number of raters). nan when undefined."""
    r = np.asarray(ratings)
    if r.ndim != 2:
        raise ValueError(f"ratings must be (subjects, raters), got shape {r.shape}")
    r = r[~(r == missing).any(axis=1)]
    n_sub, n_rat = r.shape
    if n_sub == 0 or n_rat < 2:
        return math.nan
    lab = _label_set(labels, r)
    counts = np.stack([(r == c).sum(axis=1) for c in lab], axis=1).astype(np.float64)  # (N, K)
    p_j = counts.sum(axis=0) / (n_sub * n_rat)
    p_i = (np.sum(counts**2, axis=1) - n_rat) / (n_rat * (n_rat - 1))
    p_bar, p_e = float(p_i.mean()), float(np.sum(p_j**2))
    if p_e == 1.0:
        return math.nan
    return (p_bar - p_e) / (1.0 - p_e)


def precision_recall_f1(
    y_true: Sequence[int] | np.ndarray,
    y_pred: Sequence[int] | np.ndarray,
    labels: Sequence[int] | np.ndarray | None = None,
    zero_division: float = 0.0,
) -> PerClass:
    """Per-class precision, recall, F1 and support; a 0/0 ratio becomes `zero_division`."""
    lab = _label_set(labels, np.asarray(y_true), np.asarray(y_pred))
    cm = confusion_matrix(y_true, y_pred, lab).astype(np.float64)
    tp = np.diag(cm)
    pred_pos, support = cm.sum(axis=0), cm.sum(axis=1)

    def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        out = np.full(num.shape, float(zero_division))
        np.divide(num, den, out=out, where=den > 0)
        return out

    precision, recall = ratio(tp, pred_pos), ratio(tp, support)
    f1 = ratio(2 * tp, pred_pos + support)
    return PerClass(lab, precision, recall, f1, support.astype(np.int64))


def macro_f1(
    y_true: Sequence[int] | np.ndarray,
    y_pred: Sequence[int] | np.ndarray,
    labels: Sequence[int] | np.ndarray | None = None,
    zero_division: float = 0.0,
) -> float:
    """Unweighted mean of per-class F1 over `labels` (default: classes seen in either array)."""
    return float(precision_recall_f1(y_true, y_pred, labels, zero_division).f1.mean())
