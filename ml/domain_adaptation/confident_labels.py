"""Class-balanced confidence filtering of pseudo-labels (as in Zou et al. 2018's class-balanced
self-training): within each predicted class, only the most confident `keep_fraction` of its pixels keep
their label, so a rare class is not drowned by a frequent one's higher confidences."""

from __future__ import annotations

import numpy as np

from ml.segmentation.losses import IGNORE


def confident_labels(probs: np.ndarray, keep_fraction: float) -> np.ndarray:
    """probs: (M, K, *S) class probabilities -> (M, *S) int64 labels, the most likely class where its
    probability is at least the (1 - keep_fraction) quantile of that class's pixels, IGNORE elsewhere.
    keep_fraction 1 keeps every pixel (ties at the threshold are kept)."""
    if not 0.0 < keep_fraction <= 1.0:
        raise ValueError(f"keep_fraction must be in (0, 1], got {keep_fraction}")
    labels = probs.argmax(axis=1).astype(np.int64)
    if keep_fraction == 1.0:
        return labels
    confidence = probs.max(axis=1)
    out = labels.copy()
    for c in np.unique(labels):
        of_class = labels == c
        threshold = np.quantile(confidence[of_class], 1.0 - keep_fraction)
        out[of_class & (confidence < threshold)] = IGNORE
    return out
