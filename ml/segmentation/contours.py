"""Masks to contours and back, for pre-annotation in the browser tool. Pure NumPy.

Polygons are (M, 2) float arrays of (x, y) = (column, row) pixel coordinates, closed implicitly (the
last vertex joins the first), as in the annotation API. Pixel (r, c) has its centre at (x=c, y=r).

- `mask_to_contours` runs marching squares at level 0.5 with foreground pixels 4-connected, so vertices
  lie half-way between an inside and an outside pixel centre. Rasterising such a contour with
  `polygon_to_mask` gives back exactly the mask.
- `polygon_to_mask` tests pixel centres against the polygon (even-odd or non-zero winding rule), with
  the top-left convention on edges so that abutting polygons never share a pixel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np

FillRule = Literal["evenodd", "nonzero"]

# Corners of a marching-squares cell, in doubled integer (row, col) coordinates relative to the cell's
# top-left pixel centre: edge midpoints are top (0, 1), right (1, 2), bottom (2, 1), left (1, 0).
_TOP, _RIGHT, _BOTTOM, _LEFT = (0, 1), (1, 2), (2, 1), (1, 0)
# Case index = tl * 8 + tr * 4 + br * 2 + bl. Saddles (5, 10) keep diagonal pixels apart (4-connectivity).
_SEGMENTS: dict[int, list[tuple[tuple[int, int], tuple[int, int]]]] = {
    1: [(_LEFT, _BOTTOM)],
    2: [(_BOTTOM, _RIGHT)],
    3: [(_LEFT, _RIGHT)],
    4: [(_TOP, _RIGHT)],
    5: [(_TOP, _RIGHT), (_LEFT, _BOTTOM)],
    6: [(_TOP, _BOTTOM)],
    7: [(_TOP, _LEFT)],
    8: [(_TOP, _LEFT)],
    9: [(_TOP, _BOTTOM)],
    10: [(_TOP, _LEFT), (_BOTTOM, _RIGHT)],
    11: [(_TOP, _RIGHT)],
    12: [(_LEFT, _RIGHT)],
    13: [(_BOTTOM, _RIGHT)],
    14: [(_LEFT, _BOTTOM)],
}


def mask_to_contours(mask: np.ndarray) -> list[np.ndarray]:
    """All closed boundaries of a binary mask (H, W): outer boundaries and holes, largest area first.
    Each is (M, 2) float64 (x, y), counter-clockwise on screen for outer boundaries (y down)."""
    m = np.pad(np.asarray(mask, dtype=bool), 1).astype(np.uint8)
    case = m[:-1, :-1] * 8 + m[:-1, 1:] * 4 + m[1:, 1:] * 2 + m[1:, :-1]
    rows, cols = np.nonzero((case != 0) & (case != 15))
    neighbours: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        for a, b in _SEGMENTS[int(case[r, c])]:
            pa = (2 * r + a[0], 2 * c + a[1])
            pb = (2 * r + b[0], 2 * c + b[1])
            neighbours.setdefault(pa, []).append(pb)
            neighbours.setdefault(pb, []).append(pa)
    contours: list[np.ndarray] = []
    visited: set[tuple[int, int]] = set()
    for start in neighbours:
        if start in visited:
            continue
        loop = [start]
        visited.add(start)
        prev, cur = start, neighbours[start][0]
        while cur != start:
            loop.append(cur)
            visited.add(cur)
            a, b = neighbours[cur]
            prev, cur = cur, (b if a == prev else a)
        pts = np.asarray(loop, dtype=np.float64) / 2.0 - 1.0  # undo doubling and the padding
        contours.append(pts[:, ::-1].copy())  # (row, col) -> (x, y)
    oriented = []
    for poly in contours:
        area = signed_area(poly)
        inside = _is_outer(poly, np.asarray(mask, dtype=bool))
        # y points down on screen, so a positive shoelace area is clockwise there.
        if (area > 0) == inside:
            poly = poly[::-1].copy()
        oriented.append(poly)
    oriented.sort(key=lambda p: -abs(signed_area(p)))
    return oriented


def _is_outer(poly: np.ndarray, mask: np.ndarray) -> bool:
    """Whether a traced boundary is an outer one (the foreground pixel next to it lies inside it) or a
    hole's (that pixel lies outside). Each vertex sits between a foreground and a background centre."""
    x0, y0 = poly[0]
    if x0 != round(x0):  # between columns floor(x0) and ceil(x0) of row y0
        pix = [(round(y0), int(np.floor(x0))), (round(y0), int(np.ceil(x0)))]
    else:  # between rows floor(y0) and ceil(y0) of column x0
        pix = [(int(np.floor(y0)), round(x0)), (int(np.ceil(y0)), round(x0))]
    h, w = mask.shape
    fg = [p for p in pix if 0 <= p[0] < h and 0 <= p[1] < w and mask[p]]
    if not fg:
        return False
    r, c = fg[0]
    return bool(_winding(poly, np.array([[float(c), float(r)]]))[0] != 0)


def signed_area(poly: np.ndarray) -> float:
    """Shoelace area of a closed polygon (M, 2) (x, y); positive when clockwise on screen (y down)."""
    x, y = poly[:, 0], poly[:, 1]
    return float(0.5 * (np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)))


def _winding(poly: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Winding number of each point (K, 2) (x, y) with respect to the closed polygon."""
    x0, y0 = poly[:, 0], poly[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    px, py = points[:, 0:1], points[:, 1:2]
    up = (y0 <= py) & (y1 > py)
    down = (y1 <= py) & (y0 > py)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = x0 + (py - y0) * (x1 - x0) / (y1 - y0)
    right = x_cross > px
    return (np.where(up & right, 1, 0) - np.where(down & right, 1, 0)).sum(axis=1)


def polygon_to_mask(polygon: np.ndarray, shape: tuple[int, int], rule: FillRule = "evenodd") -> np.ndarray:
    """Rasterise one closed polygon (M, 2) (x, y) into a bool mask of `shape` (H, W)."""
    return polygons_to_mask([polygon], shape, rule)


def polygons_to_mask(
    polygons: Sequence[np.ndarray], shape: tuple[int, int], rule: FillRule = "evenodd"
) -> np.ndarray:
    """Rasterise several closed polygons together (a hole is a second polygon under even-odd).

    A pixel is inside when a ray from its centre towards +x crosses the edges an odd number of times
    (even-odd) or with a non-zero signed count (non-zero). An edge covers rows y0 <= r < y1 and a
    crossing at x counts for centres c < x, so left and top edges are inclusive, right and bottom not.
    """
    h, w = shape
    count = np.zeros((h, w + 1), dtype=np.int64)  # difference array along each row
    for polygon in polygons:
        p = np.asarray(polygon, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != 2 or len(p) < 3:
            raise ValueError(f"a polygon needs shape (M >= 3, 2), got {p.shape}")
        x0, y0 = p[:, 0], p[:, 1]
        x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
        for ax, ay, bx, by in zip(x0, y0, x1, y1, strict=True):
            if ay == by:
                continue
            direction = 1 if by > ay else -1
            lo, hi = (ay, by) if ay < by else (by, ay)
            r_start = max(int(np.ceil(lo)), 0)
            r_stop = min(int(np.ceil(hi)), h)  # rows lo <= r < hi
            if r_start >= r_stop:
                continue
            r = np.arange(r_start, r_stop)
            x_cross = ax + (r - ay) * (bx - ax) / (by - ay)
            k = np.clip(np.ceil(x_cross), 0, w).astype(np.int64)  # centres c < x_cross: c in [0, k)
            np.add.at(count, (r, np.zeros_like(r)), direction)
            np.add.at(count, (r, k), -direction)
    winding = np.cumsum(count, axis=1)[:, :w]
    if rule == "evenodd":
        # Parity of the crossing count equals the parity of the signed count.
        return (winding % 2) != 0
    if rule == "nonzero":
        return winding != 0
    raise ValueError(f"unknown fill rule {rule!r}")


def largest_contour(mask: np.ndarray) -> np.ndarray | None:
    """The outer boundary of the largest connected region, or None for an empty mask."""
    contours = mask_to_contours(mask)
    return contours[0] if contours else None


def simplify(polygon: np.ndarray, tolerance: float = 0.5) -> np.ndarray:
    """Ramer-Douglas-Peucker on a closed polygon: drop vertices closer than `tolerance` pixels to the
    simplified outline. Keeps at least 3 vertices."""
    p = np.asarray(polygon, dtype=np.float64)
    if len(p) <= 3:
        return p.copy()
    # Split the ring at the vertex farthest from vertex 0 and simplify both open chains.
    far = int(np.argmax(((p - p[0]) ** 2).sum(axis=1)))
    first = _rdp(p[: far + 1], tolerance)
    second = _rdp(np.vstack([p[far:], p[:1]]), tolerance)
    out = np.vstack([first[:-1], second[:-1]])
    return out if len(out) >= 3 else p[[0, far // 2, far]]


def _rdp(chain: np.ndarray, tol: float) -> np.ndarray:
    keep = np.zeros(len(chain), dtype=bool)
    keep[0] = keep[-1] = True
    stack = [(0, len(chain) - 1)]
    while stack:
        i, j = stack.pop()
        if j <= i + 1:
            continue
        a, b = chain[i], chain[j]
        seg = b - a
        norm = np.hypot(*seg)
        pts = chain[i + 1 : j]
        if norm == 0:
            d = np.hypot(*(pts - a).T)
        else:
            d = np.abs(seg[0] * (pts[:, 1] - a[1]) - seg[1] * (pts[:, 0] - a[0])) / norm
        k = int(np.argmax(d))
        if d[k] > tol:
            keep[i + 1 + k] = True
            stack += [(i, i + 1 + k), (i + 1 + k, j)]
    return chain[keep]


# ---- cardiac label maps <-> the annotation structures --------------------------------------------------

LV, MYO, RV = 1, 2, 3


def label_map_to_contours(labels: np.ndarray) -> dict[str, list[np.ndarray]]:
    """(H, W) labels (0 bg, 1 LV, 2 Myo, 3 RV) -> outer boundaries per structure: "lv_endo" (LV blood
    pool), "lv_epi" (LV + myocardium) and "rv_endo" (RV), largest first; holes are left out."""
    lab = np.asarray(labels)
    masks = {"lv_endo": lab == LV, "lv_epi": (lab == LV) | (lab == MYO), "rv_endo": lab == RV}
    out: dict[str, list[np.ndarray]] = {}
    for name, mask in masks.items():
        out[name] = [c for c in mask_to_contours(mask) if signed_area(c) < 0]
    return out


def contours_to_label_map(contours: Mapping[str, Sequence[np.ndarray]], shape: tuple[int, int]) -> np.ndarray:
    """Inverse of `label_map_to_contours`: myocardium is epicardium minus endocardium, and the RV never
    overwrites the LV or the myocardium. Returns (H, W) uint8."""
    endo = polygons_to_mask(list(contours.get("lv_endo", [])), shape, "nonzero")
    epi = polygons_to_mask(list(contours.get("lv_epi", [])), shape, "nonzero")
    rv = polygons_to_mask(list(contours.get("rv_endo", [])), shape, "nonzero")
    out = np.zeros(shape, dtype=np.uint8)
    out[rv] = RV
    out[epi & ~endo] = MYO
    out[endo] = LV
    return out
