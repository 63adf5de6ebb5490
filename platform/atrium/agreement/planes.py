"""Agreement on ultrasound standard planes, per frame and per clip. Pure: NumPy and ml.metrics only.

Each reader's read of a clip is a (F,) int array of plane indices (ml.data.planes.PLANES), -1 where the
reader gave no label. An observer who labelled a clip at all implicitly calls every frame outside their
ranges "Background"; a clip an observer never touched is missing for them (all -1).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from atrium.agreement.compute import observer_names, ordered_pairs, pair_name
from atrium.agreement.reads import Reader
from ml.data.planes import BACKGROUND_INDEX, N_PLANES, PLANES, plane_index
from ml.metrics import agreement as stats

LABELS = list(range(N_PLANES))


def frames_from_ranges(ranges: Sequence[dict[str, Any]], n_frames: int) -> np.ndarray:
    """Plane-label annotations {plane, frame_start, frame_stop (inclusive)} -> (F,) plane indices; later
    ranges win where they overlap; frames outside every range are Background. No ranges -> all -1."""
    out = np.full(n_frames, -1, dtype=np.int64)
    if not ranges:
        return out
    out[:] = BACKGROUND_INDEX
    for r in ranges:
        start, stop = max(int(r["frame_start"]), 0), min(int(r["frame_stop"]), n_frames - 1)
        if stop >= start:
            out[start : stop + 1] = plane_index(r["plane"])
    return out


def frames_from_prediction(frames: Sequence[dict[str, Any]], n_frames: int) -> np.ndarray:
    """A model's per-frame output [{frame, plane, ...}] -> (F,) plane indices (-1 where absent)."""
    out = np.full(n_frames, -1, dtype=np.int64)
    for f in frames:
        i = int(f["frame"])
        if 0 <= i < n_frames:
            plane = f.get("plane")
            out[i] = plane_index(plane) if isinstance(plane, str) else int(plane)  # type: ignore[arg-type]
    return out


def clip_label(frames: np.ndarray) -> int:
    """The clip's plane: its most frequent non-background label, else Background; -1 when unread."""
    read = frames[frames >= 0]
    if read.size == 0:
        return -1
    fg = read[read != BACKGROUND_INDEX]
    if fg.size == 0:
        return BACKGROUND_INDEX
    return int(np.bincount(fg, minlength=N_PLANES).argmax())


def consensus(frames_by_reader: Sequence[np.ndarray]) -> np.ndarray:
    """Majority label per frame among the readers who labelled it; -1 where nobody did or the top labels tie."""
    stack = np.stack(frames_by_reader)  # (R, F)
    out = np.full(stack.shape[1], -1, dtype=np.int64)
    for f in range(stack.shape[1]):
        votes = Counter(int(v) for v in stack[:, f] if v >= 0).most_common(2)
        if votes and (len(votes) == 1 or votes[0][1] > votes[1][1]):
            out[f] = votes[0][0]
    return out


def _num(v: float) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def _pair_stats(a: list[np.ndarray], b: list[np.ndarray]) -> dict[str, Any]:
    """Frame- and clip-level agreement between two readers over the clips both read."""
    fa, fb, per_clip, ca, cb = [], [], [], [], []
    for x, y in zip(a, b, strict=True):
        both = (x >= 0) & (y >= 0)
        if not both.any():
            continue
        fa.append(x[both])
        fb.append(y[both])
        per_clip.append(float(np.mean(x[both] == y[both])))
        ca.append(clip_label(x))
        cb.append(clip_label(y))
    if not fa:
        return {
            "n_frames": 0,
            "n_clips": 0,
            "frame_agreement": None,
            "clip_agreement": None,
            "clip_label_agreement": None,
            "kappa": None,
            "clip_kappa": None,
            "confusion": None,
        }
    xa, xb = np.concatenate(fa), np.concatenate(fb)
    return {
        "n_frames": int(xa.size),
        "n_clips": len(per_clip),
        "frame_agreement": float(np.mean(xa == xb)),
        "clip_agreement": float(np.mean(per_clip)),
        "clip_label_agreement": float(np.mean(np.asarray(ca) == np.asarray(cb))),
        "kappa": _num(stats.cohen_kappa(xa, xb, LABELS)),
        "clip_kappa": _num(stats.cohen_kappa(ca, cb, LABELS)),
        "confusion": stats.confusion_matrix(xa, xb, LABELS).tolist(),
    }


def _vs_consensus(model: list[np.ndarray], cons: list[np.ndarray]) -> dict[str, Any]:
    truth, pred = [], []
    for m, c in zip(model, cons, strict=True):
        ok = (m >= 0) & (c >= 0)
        truth.append(c[ok])
        pred.append(m[ok])
    t = np.concatenate(truth) if truth else np.zeros(0, dtype=np.int64)
    p = np.concatenate(pred) if pred else np.zeros(0, dtype=np.int64)
    if t.size == 0:
        return {"n_frames": 0, "per_plane": [], "macro_f1": None, "kappa": None, "accuracy": None}
    pc = stats.precision_recall_f1(t, p, LABELS)
    present = pc.support > 0
    per_plane = [
        {
            "plane": PLANES[int(k)],
            "precision": float(pr),
            "recall": float(rc),
            "f1": float(f1),
            "support": int(s),
        }
        for k, pr, rc, f1, s in zip(pc.labels, pc.precision, pc.recall, pc.f1, pc.support, strict=True)
    ]
    return {
        "n_frames": int(t.size),
        "per_plane": per_plane,
        "macro_f1": float(pc.f1[present].mean()) if present.any() else None,
        "kappa": _num(stats.cohen_kappa(t, p, LABELS)),
        "accuracy": float(np.mean(t == p)),
        "confusion": stats.confusion_matrix(t, p, LABELS).tolist(),
    }


def aggregate_planes(readers: Sequence[Reader], clips: dict[str, dict[str, np.ndarray]]) -> dict[str, Any]:
    """The ultrasound report. clips: case id -> reader key -> (F,) plane indices (-1 unlabelled)."""
    names = observer_names(readers)
    case_ids = list(clips)

    def series(key: str) -> list[np.ndarray]:
        out = []
        for cid in case_ids:
            n = len(next(iter(clips[cid].values()))) if clips[cid] else 0
            out.append(clips[cid].get(key, np.full(n, -1, dtype=np.int64)))
        return out

    pairs = []
    for a, b, kind in ordered_pairs(readers):
        pairs.append(
            {
                "pair": pair_name(a, b, names),
                "kind": kind,
                "a": a.key,
                "b": b.key,
                **_pair_stats(series(a.key), series(b.key)),
            }
        )
    firsts = [r.key for r in readers if r.kind == "observer" and r.read_number == 1]
    fleiss = None
    n_fleiss = 0
    cons: list[np.ndarray] = []
    if firsts:
        per_obs = [series(k) for k in firsts]
        stacked = [np.stack([p[i] for p in per_obs], axis=1) for i in range(len(case_ids))]  # (F, R) each
        if stacked:
            ratings = np.concatenate(stacked, axis=0)
            ratings = ratings[(ratings >= 0).all(axis=1)]
            n_fleiss = int(ratings.shape[0])
            fleiss = _num(stats.fleiss_kappa(ratings, LABELS)) if len(firsts) >= 2 and n_fleiss else None
        cons = [consensus([p[i] for p in per_obs]) for i in range(len(case_ids))]
    inter_kappas = [p["kappa"] for p in pairs if p["kind"] == "inter" and p["kappa"] is not None]
    models = sorted((r for r in readers if r.kind == "model"), key=lambda r: r.model_number or 0)
    versions = []
    for m in models:
        vs = _vs_consensus(series(m.key), cons) if cons else _vs_consensus([], [])
        within = (
            None
            if not inter_kappas or vs["kappa"] is None
            else bool(vs["kappa"] >= min(inter_kappas) - 1e-12)
        )
        versions.append(
            {
                "model": m.key,
                "model_number": m.model_number,
                "round": m.round,
                "vs_consensus": vs,
                "inter_min_kappa": min(inter_kappas) if inter_kappas else None,
                "within_inter_observer": within,
            }
        )
    return {
        "observers": names,
        "planes": list(PLANES),
        "pairs": pairs,
        "fleiss_kappa": fleiss,
        "fleiss_n_frames": n_fleiss,
        "model_vs_consensus": versions,
        "trends": [
            {k: v[k] for k in ("model", "model_number", "round", "inter_min_kappa", "within_inter_observer")}
            | {"kappa": v["vs_consensus"]["kappa"], "macro_f1": v["vs_consensus"]["macro_f1"]}  # type: ignore[index]
            for v in versions
        ],
    }
