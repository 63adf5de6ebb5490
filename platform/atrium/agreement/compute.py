"""Per-case agreement results and their aggregation into a report. Pure: NumPy and ml.metrics, no Django.

Per case: each reader's clinical measures (`reader_summary`) and each pair of readers' contour metrics
(`pair_metrics`), both JSON-able so that they can be cached. Aggregation (`aggregate_cardiac`) turns the
cached per-case results into the report's tables. Each reader is compared at its own ED and ES phases,
as the clinical measures are.
"""

from __future__ import annotations

import itertools
import math
import multiprocessing as mp
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from atrium.agreement.reads import (
    LABELS,
    CaseRead,
    Reader,
    ReaderMasks,
    masks_from_contours,
    masks_from_label_map,
)
from ml.metrics import agreement as stats
from ml.metrics.distances import pairwise_overlap_and_surfaces
from ml.segmentation.measures import cardiac_measures

PHASES: tuple[str, ...] = ("ED", "ES")
MEASURES: tuple[str, ...] = ("lvedv", "lvesv", "lvef", "lvm", "rvedv", "rvesv", "rvef")
MEASURE_LABELS: dict[str, str] = {
    "lvedv": "LVEDV (mL)",
    "lvesv": "LVESV (mL)",
    "lvef": "LVEF (%)",
    "lvm": "LVM (g)",
    "rvedv": "RVEDV (mL)",
    "rvesv": "RVESV (mL)",
    "rvef": "RVEF (%)",
}
UKBB_ROWS: tuple[str, ...] = ("lvedv", "lvesv", "lvm", "rvedv", "rvesv")
# Which structure at which phase each measure needs; a measure is left out when one is missing.
NEEDS: dict[str, tuple[tuple[str, str], ...]] = {
    "lvedv": (("ED", "LV"),),
    "lvesv": (("ES", "LV"),),
    "lvef": (("ED", "LV"), ("ES", "LV")),
    "lvm": (("ED", "Myo"),),
    "rvedv": (("ED", "RV"),),
    "rvesv": (("ES", "RV"),),
    "rvef": (("ED", "RV"), ("ES", "RV")),
}
CONTOUR_METRICS: tuple[str, ...] = ("dice", "hausdorff", "hd95", "mcd")


def _num(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def reader_summary(masks: ReaderMasks, spacing: Sequence[float], slice_mm: float) -> dict[str, Any]:
    """Clinical measures of one reader on one case (None where a needed structure is missing), with
    the phases used and what was missing. spacing: (row, col) mm; slice_mm: distance between slices."""
    labels = np.stack([masks.ed, masks.es], axis=1)  # (S, 2, H, W): phase 0 = ED, 1 = ES
    m = cardiac_measures(
        labels, (float(spacing[0]), float(spacing[1])), float(slice_mm), ed_phase=0, es_phase=1
    )
    measures: dict[str, float | None] = {}
    for name in MEASURES:
        absent = any(struct in masks.missing.get(phase, []) for phase, struct in NEEDS[name])
        measures[name] = None if absent or masks.ed_phase is None else _num(float(getattr(m, name)))
    return {
        "measures": measures,
        "ed_phase": masks.ed_phase,
        "es_phase": masks.es_phase,
        "phase_source": masks.phase_source,
        "missing": masks.missing,
        "empty_contours": masks.empty_contours,
        "slices": masks.slices,
    }


def pair_metrics(a: ReaderMasks, b: ReaderMasks, spacing3d: Sequence[float]) -> dict[str, dict[str, Any]]:
    """Contour metrics between two readers on one case; see `case_pair_metrics`."""
    return case_pair_metrics({"a": a, "b": b}, [("a", "b")], spacing3d)[("a", "b")]


def _crop_to_labels(stacks: list[np.ndarray]) -> list[np.ndarray]:
    """Crop (S, H, W) label stacks to the rows and columns any of them labels, plus a one-pixel margin,
    which changes no boundary and no distance (the per-structure crop happens later)."""
    rows = np.zeros(stacks[0].shape[1], dtype=bool)
    cols = np.zeros(stacks[0].shape[2], dtype=bool)
    for s in stacks:
        fg = s.any(axis=0)
        rows |= fg.any(axis=1)  # type: ignore[call-overload]
        cols |= fg.any(axis=0)
    if not rows.any():
        return stacks
    r, c = np.flatnonzero(rows), np.flatnonzero(cols)
    box = (slice(None), slice(max(r[0] - 1, 0), r[-1] + 2), slice(max(c[0] - 1, 0), c[-1] + 2))
    return [s[box] for s in stacks]


def case_pair_metrics(
    masks: dict[str, ReaderMasks], pairs: Sequence[tuple[str, str]], spacing3d: Sequence[float]
) -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    """Dice, Hausdorff, HD95 and mean contour distance (mm) per phase and structure over the (S, H, W)
    stacks, for each pair of reader keys. spacing3d: (slice, row, col) mm. Every reader's boundary is found
    once per phase and structure, and all of the case's pairs go to one batched search.

    `status` says when a reader has no such structure: "missing_a"/"missing_b" (Dice 0, no distances)
    or "both_missing" (nothing to compare)."""
    keys = sorted({k for p in pairs for k in p})
    index = {k: i for i, k in enumerate(keys)}
    # one batch: every (phase, structure, reader) mask, cropped together; pairs within a (phase, structure)
    stacks = _crop_to_labels([getattr(masks[k], ph.lower()) for ph in PHASES for k in keys])
    labels = np.stack(stacks).reshape(len(PHASES), 1, len(keys), *stacks[0].shape)
    values = np.asarray(list(LABELS.values()), dtype=labels.dtype).reshape(1, -1, 1, 1, 1, 1)
    batch = (labels == values).reshape(-1, *stacks[0].shape)  # (phase, structure, reader) flattened
    has = batch.reshape(batch.shape[0], -1).any(axis=1).tolist()
    groups = [(ph, name) for ph in PHASES for name in LABELS]
    batch_pairs = [
        (g * len(keys) + index[a], g * len(keys) + index[b]) for g in range(len(groups)) for a, b in pairs
    ]
    results = pairwise_overlap_and_surfaces(batch, batch_pairs, spacing3d)
    out: dict[tuple[str, str], dict[str, dict[str, Any]]] = {p: {} for p in pairs}
    for n, (i, j) in enumerate(batch_pairs):
        (phase, name), (a, b) = groups[n // len(pairs)], pairs[n % len(pairs)]
        d, sm = results[n]
        if not has[i] and not has[j]:
            cell: dict[str, Any] = {"status": "both_missing"}
        elif not (has[i] and has[j]):
            cell = {"status": "missing_a" if not has[i] else "missing_b", "dice": 0.0}
        else:
            cell = {
                "status": "ok",
                "dice": d,
                "hausdorff": sm.hausdorff,
                "hd95": sm.hd95,
                "mcd": sm.mean_contour_distance,
            }
        out[(a, b)].setdefault(phase, {})[name] = cell
    return out


# ---- aggregation ---------------------------------------------------------------------------------


def observer_names(readers: Sequence[Reader]) -> dict[str, str]:
    """User -> "O1", "O2", ... in the order the observers first appear."""
    names: dict[str, str] = {}
    for r in readers:
        if r.kind == "observer" and r.user not in names:
            names[r.user] = f"O{len(names) + 1}"
    return names


def pair_kind(a: Reader, b: Reader) -> str | None:
    """ "inter" (first reads of two observers), "intra" (two reads of one observer), "model" (a model
    version against an observer's first read), or None for pairs the report does not compare."""
    if a.kind == "observer" and b.kind == "observer":
        if a.user == b.user:
            return "intra"
        return "inter" if a.read_number == 1 and b.read_number == 1 else None
    if {a.kind, b.kind} == {"observer", "model"}:
        obs = a if a.kind == "observer" else b
        return "model" if obs.read_number == 1 else None
    return None


def ordered_pairs(readers: Sequence[Reader]) -> list[tuple[Reader, Reader, str]]:
    """Every compared pair, model first in model pairs and, with three observers, in the UK Biobank order
    O1-O2, O2-O3, O3-O1."""
    out: list[tuple[Reader, Reader, str]] = []
    firsts = [r for r in readers if r.kind == "observer" and r.read_number == 1]
    inter = list(itertools.combinations(firsts, 2))
    if len(firsts) == 3:
        inter = [(firsts[0], firsts[1]), (firsts[1], firsts[2]), (firsts[2], firsts[0])]
    out += [(a, b, "inter") for a, b in inter]
    for a, b in itertools.combinations(readers, 2):
        kind = pair_kind(a, b)
        if kind == "intra":
            first, second = (a, b) if a.read_number < b.read_number else (b, a)
            out.append((first, second, kind))
        elif kind == "model":
            model, obs = (a, b) if a.kind == "model" else (b, a)
            out.append((model, obs, kind))
    return out


def pair_name(a: Reader, b: Reader, names: dict[str, str]) -> str:
    def short(r: Reader) -> str:
        if r.kind == "model":
            return f"model v{r.model_number}"
        base = names.get(r.user, r.user)
        return base if r.read_number == 1 else f"{base} read {r.read_number}"

    return f"{short(a)} vs {short(b)}"


def _mean_sd(values: list[float]) -> tuple[float | None, float | None]:
    arr = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    if arr.size == 0:
        return None, None
    return float(arr.mean()), (float(arr.std(ddof=1)) if arr.size > 1 else None)


def _contour_rows(
    label: str, kind: str, a: str, b: str, results: Iterable[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One row per (phase, structure) pooling the per-case metrics in `results`."""
    results = list(results)
    rows = []
    for phase in PHASES:
        for struct in LABELS:
            cells = [r[phase][struct] for r in results if phase in r and struct in r[phase]]
            compared = [c for c in cells if c["status"] != "both_missing"]
            ok = [c for c in compared if c["status"] == "ok"]
            row: dict[str, Any] = {
                "pair": label,
                "kind": kind,
                "a": a,
                "b": b,
                "phase": phase,
                "structure": struct,
                "n": len(ok),
                "n_missing": len(compared) - len(ok),
            }
            for metric in CONTOUR_METRICS:
                mean, sd = _mean_sd([c.get(metric) for c in (compared if metric == "dice" else ok)])
                row[f"{metric}_mean"], row[f"{metric}_sd"] = mean, sd
            rows.append(row)
    return rows


def _measure_stats(x: list[float | None], y: list[float | None]) -> dict[str, Any]:
    a = np.asarray([np.nan if v is None else v for v in x], dtype=np.float64)
    b = np.asarray([np.nan if v is None else v for v in y], dtype=np.float64)
    diff = stats.paired_differences(a, b)
    ba = stats.bland_altman(a, b)
    means, diffs = stats.bland_altman_points(a, b)
    return {
        "n": diff.n,
        "abs_mean": _num(diff.abs_mean),
        "abs_sd": _num(diff.abs_sd),
        "rel_mean_pct": _num(diff.rel_mean_pct),
        "rel_sd_pct": _num(diff.rel_sd_pct),
        "bias": _num(ba.bias),
        "sd": _num(ba.sd),
        "loa_low": _num(ba.loa_low),
        "loa_high": _num(ba.loa_high),
        "points": [[round(float(m), 4), round(float(d), 4)] for m, d in zip(means, diffs, strict=True)],
    }


def _paired_values(
    summaries: dict[str, dict[str, dict[str, Any]]], a: str, b: str, measure: str
) -> tuple[list[float | None], list[float | None]]:
    xa, xb = [], []
    for per_case in summaries.values():
        if a in per_case and b in per_case:
            xa.append(per_case[a]["measures"].get(measure))
            xb.append(per_case[b]["measures"].get(measure))
    return xa, xb


def _fmt(mean: float | None, sd: float | None) -> str:
    if mean is None:
        return "-"
    return f"{mean:.2f} ± {sd:.2f}" if sd is not None else f"{mean:.2f}"


def aggregate_cardiac(
    readers: Sequence[Reader],
    summaries: dict[str, dict[str, dict[str, Any]]],
    pairs: dict[str, dict[tuple[str, str], dict[str, Any]]],
) -> dict[str, Any]:
    """The cardiac report from per-case results.

    summaries: case id -> reader key -> `reader_summary` output.
    pairs: case id -> (reader key a, reader key b) -> `pair_metrics` output, for the `ordered_pairs`.
    """
    names = observer_names(readers)
    by_key = {r.key: r for r in readers}
    compared = ordered_pairs(readers)
    contour_rows: list[dict[str, Any]] = []
    measure_rows: list[dict[str, Any]] = []
    pair_entries = []
    for a, b, kind in compared:
        label = pair_name(a, b, names)
        results = [p[(a.key, b.key)] for p in pairs.values() if (a.key, b.key) in p]
        contour_rows += _contour_rows(label, kind, a.key, b.key, results)
        for measure in MEASURES:
            xa, xb = _paired_values(summaries, a.key, b.key, measure)
            measure_rows.append(
                {
                    "pair": label,
                    "kind": kind,
                    "a": a.key,
                    "b": b.key,
                    "measure": measure,
                    **_measure_stats(xa, xb),
                }
            )
        pair_entries.append({"pair": label, "kind": kind, "a": a.key, "b": b.key, "n_cases": len(results)})

    models = sorted({r.model_number for r in readers if r.kind == "model"}, key=lambda n: n or 0)
    pooled = {m: _pooled_model(readers, m, summaries, pairs, names) for m in models}
    report = {
        "observers": names,
        "pairs": pair_entries,
        "contours": contour_rows,
        "measures": measure_rows,
        "model_vs_observers": [pooled[m] for m in models],
        "ukbb_table": ukbb_table(pooled[models[-1]] if models else None, measure_rows),
        "reliability": _reliability(readers, summaries, names),
        "trends": _trends(
            pooled,
            [m for m in measure_rows if m["kind"] == "inter"],
            [c for c in contour_rows if c["kind"] == "inter"],
        ),
        "missing": _missing(summaries, by_key, names),
    }
    return report


def _pooled_model(
    readers: Sequence[Reader],
    number: int | None,
    summaries: dict[str, dict[str, dict[str, Any]]],
    pairs: dict[str, dict[tuple[str, str], dict[str, Any]]],
    names: dict[str, str],
) -> dict[str, Any]:
    """One model version against every observer's first read, pooled ("Auto vs Man")."""
    model = next(r for r in readers if r.kind == "model" and r.model_number == number)
    observers = [r for r in readers if r.kind == "observer" and r.read_number == 1]
    results = [p[(model.key, o.key)] for p in pairs.values() for o in observers if (model.key, o.key) in p]
    xs: dict[str, tuple[list[float | None], list[float | None]]] = {}
    for measure in MEASURES:
        xa: list[float | None] = []
        xb: list[float | None] = []
        for o in observers:
            a, b = _paired_values(summaries, model.key, o.key, measure)
            xa += a
            xb += b
        xs[measure] = (xa, xb)
    label = f"model v{number} vs observers"
    return {
        "model": model.key,
        "model_number": number,
        "model_version_id": model.model_version_id,
        "round": model.round,
        "label": label,
        "contours": _contour_rows(label, "model", model.key, "observers", results),
        "measures": {m: _measure_stats(*xs[m]) for m in MEASURES},
    }


def _ratings(
    summaries: dict[str, dict[str, dict[str, Any]]], keys: Sequence[str], measure: str
) -> np.ndarray:
    rows = []
    for per_case in summaries.values():
        if all(k in per_case for k in keys):
            rows.append([per_case[k]["measures"].get(measure) for k in keys])
    arr = np.asarray([[np.nan if v is None else v for v in row] for row in rows], dtype=np.float64)
    return arr.reshape(-1, len(keys))


def _reliability(
    readers: Sequence[Reader], summaries: dict[str, dict[str, dict[str, Any]]], names: dict[str, str]
) -> list[dict[str, Any]]:
    """ICC(2,1) and within-subject CV per measure: across observers, and per observer's repeated reads."""
    groups: list[tuple[str, str, list[str]]] = []
    firsts = [r.key for r in readers if r.kind == "observer" and r.read_number == 1]
    if len(firsts) >= 2:
        groups.append(("inter-observer", "inter", firsts))
    for user, name in names.items():
        reads = [r.key for r in readers if r.kind == "observer" and r.user == user]
        if len(reads) >= 2:
            groups.append((f"{name} repeated reads", "intra", reads))
    models = [r for r in readers if r.kind == "model"]
    if models and firsts:
        latest = max(models, key=lambda r: r.model_number or 0)
        groups.append((f"observers + model v{latest.model_number}", "model", [*firsts, latest.key]))
    out = []
    for label, kind, keys in groups:
        for measure in MEASURES:
            r = _ratings(summaries, keys, measure)
            value = stats.icc(r, "ICC(2,1)")
            cv = stats.coefficient_of_variation(r)
            out.append(
                {
                    "group": label,
                    "kind": kind,
                    "readers": keys,
                    "measure": measure,
                    "icc": _num(value.value),
                    "icc_kind": value.kind,
                    "n": value.n_subjects,
                    "cv_pct": _num(cv * 100.0) if cv == cv else None,
                }
            )
    return out


def _trends(
    pooled: dict[int | None, dict[str, Any]],
    inter_measures: list[dict[str, Any]],
    inter_contours: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Per model version (by number): pooled model-vs-observer figures and whether each sits within the
    inter-observer range (mean Dice >= the lowest inter-observer mean Dice; |bias| <= the largest
    inter-observer |bias|)."""
    min_dice: dict[tuple[str, str], float] = {}
    for row in inter_contours:
        if row["dice_mean"] is not None:
            key = (row["phase"], row["structure"])
            min_dice[key] = min(min_dice.get(key, math.inf), row["dice_mean"])
    max_bias: dict[str, float] = {}
    for row in inter_measures:
        if row["bias"] is not None:
            max_bias[row["measure"]] = max(max_bias.get(row["measure"], 0.0), abs(row["bias"]))
    out = []
    for number in sorted(pooled, key=lambda n: n or 0):
        entry = pooled[number]
        dice_rows = []
        for row in entry["contours"]:
            ref = min_dice.get((row["phase"], row["structure"]))
            within = (
                None if ref is None or row["dice_mean"] is None else bool(row["dice_mean"] >= ref - 1e-12)
            )
            dice_rows.append(
                {
                    "phase": row["phase"],
                    "structure": row["structure"],
                    "dice_mean": row["dice_mean"],
                    "hd95_mean": row["hd95_mean"],
                    "inter_min_dice": ref,
                    "within_inter_observer": within,
                }
            )
        bias_rows = []
        for measure, s in entry["measures"].items():
            ref = max_bias.get(measure)
            within = None if ref is None or s["bias"] is None else bool(abs(s["bias"]) <= ref + 1e-12)
            bias_rows.append(
                {
                    "measure": measure,
                    "bias": s["bias"],
                    "abs_mean": s["abs_mean"],
                    "n": s["n"],
                    "inter_max_abs_bias": ref,
                    "within_inter_observer": within,
                }
            )
        flags = [
            r["within_inter_observer"]
            for r in dice_rows + bias_rows
            if r["within_inter_observer"] is not None
        ]
        out.append(
            {
                "model": entry["model"],
                "model_number": number,
                "round": entry["round"],
                "dice": dice_rows,
                "bias": bias_rows,
                "within_inter_observer": bool(flags) and all(flags),
            }
        )
    return out


def _missing(
    summaries: dict[str, dict[str, dict[str, Any]]], by_key: dict[str, Reader], names: dict[str, str]
) -> dict[str, Any]:
    """Counts of missing structures per reader, and the cases concerned."""
    per_reader: dict[str, dict[str, Any]] = {}
    cases: list[dict[str, Any]] = []
    for case_id, per_case in summaries.items():
        for key, s in per_case.items():
            entry = per_reader.setdefault(
                key,
                {
                    "reader": key,
                    "cases": 0,
                    "cases_with_missing": 0,
                    "empty_contours": 0,
                    "missing": {f"{p} {st}": 0 for p in PHASES for st in LABELS},
                    "no_phases": 0,
                },
            )
            entry["cases"] += 1
            entry["empty_contours"] += int(s.get("empty_contours", 0))
            gone = [f"{p} {st}" for p in PHASES for st in s["missing"].get(p, [])]
            for g in gone:
                entry["missing"][g] += 1
            if s.get("ed_phase") is None:
                entry["no_phases"] += 1
            if gone or s.get("empty_contours"):
                entry["cases_with_missing"] += 1
                cases.append(
                    {
                        "case": case_id,
                        "reader": key,
                        "missing": gone,
                        "empty_contours": int(s.get("empty_contours", 0)),
                    }
                )
    return {"per_reader": list(per_reader.values()), "cases": cases[:500], "n_cases": len(cases)}


def ukbb_table(model: dict[str, Any] | None, measure_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The UK Biobank layout: "Auto vs Man" (the model against every observer, pooled), then each pair of
    observers; absolute differences then relative (%), mean ± SD, n per column."""
    columns: list[tuple[str, dict[str, Any]]] = []
    if model is not None:
        columns.append((f"Auto vs Man (v{model['model_number']})", model["measures"]))
    seen: dict[str, dict[str, Any]] = {}
    for row in measure_rows:
        if row["kind"] == "inter":
            seen.setdefault(row["pair"], {})[row["measure"]] = row
    columns += list(seen.items())
    rows = []
    for kind in ("abs", "rel"):
        for measure in UKBB_ROWS:
            label = (
                MEASURE_LABELS[measure] if kind == "abs" else MEASURE_LABELS[measure].split(" (")[0] + " (%)"
            )
            cells = []
            for _, col in columns:
                s = col.get(measure)
                if s is None:
                    cells.append({"text": "-", "n": 0})
                    continue
                mean, sd = (
                    (s["abs_mean"], s["abs_sd"]) if kind == "abs" else (s["rel_mean_pct"], s["rel_sd_pct"])
                )
                cells.append({"mean": mean, "sd": sd, "n": s["n"], "text": _fmt(mean, sd)})
            rows.append({"measure": measure, "kind": kind, "label": label, "cells": cells})
    header = [
        {"name": name, "n": max((col[m]["n"] for m in UKBB_ROWS if m in col), default=0)}
        for name, col in columns
    ]
    return {"columns": header, "rows": rows}


# ---- per-case work, optionally over a process pool -----------------------------------------------


@dataclass
class CaseTask:
    """What to compute for one cardiac case. `masks` may hold ready ReaderMasks (the benchmark's
    synthetic reads); otherwise they are built from `reads` (contours, or a label map opened by key)."""

    case_id: str
    shape: tuple[int, ...]  # (S, P, H, W)
    spacing: tuple[float, float]  # (row, col) mm
    slice_mm: float
    case_phases: tuple[int | None, int | None]
    reads: dict[str, CaseRead] = field(default_factory=dict)
    masks: dict[str, ReaderMasks] = field(default_factory=dict)
    summaries: list[str] = field(default_factory=list)
    pairs: list[tuple[str, str]] = field(default_factory=list)


Opener = Callable[[str], np.ndarray]


def build_masks(read: CaseRead, task: CaseTask, opener: Opener | None) -> ReaderMasks:
    if read.label_map_key:
        if opener is None:
            raise ValueError("a label-map read needs an opener for the pixel store")
        return masks_from_label_map(read, np.asarray(opener(read.label_map_key)), task.case_phases)
    return masks_from_contours(read, task.shape, task.case_phases)


def compute_case(task: CaseTask, opener: Opener | None = None) -> dict[str, Any]:
    """{"summaries": {reader: reader_summary}, "pairs": {(a, b): pair metrics}} for the task's requests."""
    needed = sorted(set(task.summaries) | {k for p in task.pairs for k in p})
    if not needed:
        return {"summaries": {}, "pairs": {}}
    full = {k: task.masks[k] if k in task.masks else build_masks(task.reads[k], task, opener) for k in needed}
    # crop every reader's ED and ES to the rows and columns anyone labelled: no volume, boundary or
    # distance changes, and everything below touches a fraction of the image
    cropped = iter(_crop_to_labels([m for k in needed for m in (full[k].ed, full[k].es)]))
    masks = {k: replace(full[k], ed=next(cropped), es=next(cropped)) for k in needed}
    spacing3d = (float(task.slice_mm), float(task.spacing[0]), float(task.spacing[1]))
    return {
        "summaries": {k: reader_summary(masks[k], task.spacing, task.slice_mm) for k in task.summaries},
        "pairs": case_pair_metrics(masks, task.pairs, spacing3d) if task.pairs else {},
    }


_POOL_TASKS: list[CaseTask] = []
_POOL_OPENER: list[Opener | None] = [None]


def _run_index(i: int) -> dict[str, Any]:
    return compute_case(_POOL_TASKS[i], _POOL_OPENER[0])


def default_processes() -> int:
    """Two processes when the machine has a second core to spare by its 1-minute load average, else one:
    on a busy shared machine a second process only adds fork and transfer overhead (measured)."""
    cores = os.cpu_count() or 1
    if cores < 2:
        return 1
    try:
        load = os.getloadavg()[0]
    except OSError:
        return 2
    return 2 if load < cores - 0.5 else 1


def compute_cases(
    tasks: Sequence[CaseTask],
    *,
    opener: Opener | None = None,
    processes: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """`compute_case` over many cases, on a fork pool when there is more than a handful of cases and this
    process may have children (a daemonic worker may not: it then runs serially). Tasks reach the children
    through fork's copy of memory, not pickling; only the small results are sent back."""
    n = len(tasks)
    procs = default_processes() if processes is None else max(1, processes)
    can_fork = "fork" in mp.get_all_start_methods() and not mp.current_process().daemon
    results: list[dict[str, Any]] = []
    if procs == 1 or n < 8 or not can_fork:
        for i, task in enumerate(tasks):
            results.append(compute_case(task, opener))
            if progress is not None:
                progress(i + 1, n)
        return results
    _POOL_TASKS[:] = list(tasks)
    _POOL_OPENER[0] = opener
    try:
        with mp.get_context("fork").Pool(procs) as pool:
            for i, result in enumerate(
                pool.imap(_run_index, range(n), chunksize=max(1, min(16, n // (4 * procs))))
            ):
                results.append(result)
                if progress is not None:
                    progress(i + 1, n)
    finally:
        _POOL_TASKS.clear()
        _POOL_OPENER[0] = None
    return results
