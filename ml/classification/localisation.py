"""Weakly supervised localisation of the detected plane's anatomy (SonoNet section III-C, simplified).

Two methods, both returning a heatmap in [0, 1] at input size and the bounding box of the largest
connected component above a threshold:
- "category_map": the predicted class's category-specific feature map, upsampled bilinearly;
- "saliency": |d score / d input| (backpropagation of the class score), Gaussian-smoothed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

Method = Literal["category_map", "saliency"]


class HasCategoryMaps(Protocol):
    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...
    def category_maps(self, x: torch.Tensor) -> torch.Tensor: ...


@dataclass(frozen=True)
class Localisation:
    """heatmap: (H, W) float32 in [0, 1]; bbox: (y0, x0, y1, x1) with y1/x1 exclusive, (0, 0, 0, 0) when
    nothing passes the threshold; class_index: the class localised."""

    heatmap: np.ndarray
    bbox: tuple[int, int, int, int]
    method: str
    class_index: int


def normalise_heatmap(h: np.ndarray) -> np.ndarray:
    """Min-max to [0, 1]; a constant map becomes zeros. (H, W) -> (H, W) float32."""
    h = np.asarray(h, dtype=np.float32)
    lo, hi = float(h.min()), float(h.max())
    if hi - lo <= 1e-12:
        return np.zeros_like(h)
    return (h - lo) / (hi - lo)


def heatmap_bbox(heatmap: np.ndarray, threshold: float = 0.5) -> tuple[int, int, int, int]:
    """Bounding box (y0, x0, y1, x1), exclusive ends, of the largest 8-connected component of
    heatmap >= threshold (ties: the one holding the maximum)."""
    mask = heatmap >= threshold
    if not mask.any() or float(heatmap.max()) <= 0.0:
        return (0, 0, 0, 0)
    labels, _ = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    sizes = np.bincount(labels.ravel())[1:]
    best = int(np.argmax(sizes)) + 1
    rows, cols = np.nonzero(labels == best)
    return (int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1)


def category_map_heatmap(
    model: HasCategoryMaps, x: torch.Tensor, class_index: int | None = None
) -> tuple[np.ndarray, int]:
    """x: (1, 1, H, W) normalised -> ((H, W) heatmap in [0, 1], class index)."""
    with torch.no_grad():
        maps = model.category_maps(x).float()  # (1, K, h, w)
        k = int(maps.mean(dim=(-2, -1)).argmax(dim=1)) if class_index is None else class_index
        up = F.interpolate(maps[:, k : k + 1], size=x.shape[-2:], mode="bilinear", align_corners=False)
    return normalise_heatmap(up[0, 0].cpu().numpy()), k


def saliency_heatmap(
    model: HasCategoryMaps, x: torch.Tensor, class_index: int | None = None, sigma: float = 3.0
) -> tuple[np.ndarray, int]:
    """x: (1, 1, H, W) -> (|grad of the class score w.r.t. x|, Gaussian-smoothed, in [0, 1]; class)."""
    inp = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        logits = model(inp)
        k = int(logits.argmax(dim=1)) if class_index is None else class_index
        (grad,) = torch.autograd.grad(logits[0, k], inp)
    sal = grad[0].abs().amax(dim=0).float().cpu().numpy()
    if sigma > 0:
        sal = ndimage.gaussian_filter(sal, sigma)
    return normalise_heatmap(sal), k


def localise(
    model: HasCategoryMaps,
    x: torch.Tensor,
    method: Method = "category_map",
    *,
    class_index: int | None = None,
    threshold: float = 0.5,
    sigma: float = 3.0,
) -> Localisation:
    """Localise the predicted (or given) class in one image x: (1, 1, H, W), already normalised."""
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"x must be (1, C, H, W), got {tuple(x.shape)}")
    if method == "category_map":
        heat, k = category_map_heatmap(model, x, class_index)
    elif method == "saliency":
        heat, k = saliency_heatmap(model, x, class_index, sigma)
    else:
        raise ValueError(f"unknown method {method!r}")
    return Localisation(heat, heatmap_bbox(heat, threshold), method, k)
