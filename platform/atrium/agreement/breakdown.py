"""Agreement broken down by site and vendor: the report re-aggregated over each group's cases, and a short
summary per group (where does the model fall behind the observers?). Pure: no Django.

`breakdown` takes the same per-case results as `aggregate_cardiac` / `aggregate_planes` and the cases'
site and vendor; the per-group reports are stored with the report so that filtering by site or vendor
never recomputes anything.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

DIMENSIONS: tuple[str, ...] = ("site", "vendor")
UNKNOWN = "(unknown)"


def group_value(case: dict[str, Any], dimension: str) -> str:
    return str(case.get(dimension) or "").strip() or UNKNOWN


def groups(cases: Sequence[dict[str, Any]]) -> dict[str, dict[str, list[str]]]:
    """dimension ("site", "vendor", "site_vendor") -> value -> case ids (str), values sorted."""
    out: dict[str, dict[str, list[str]]] = {d: {} for d in (*DIMENSIONS, "site_vendor")}
    for case in cases:
        cid = str(case["id"])
        site, vendor = group_value(case, "site"), group_value(case, "vendor")
        out["site"].setdefault(site, []).append(cid)
        out["vendor"].setdefault(vendor, []).append(cid)
        out["site_vendor"].setdefault(f"{site}|{vendor}", []).append(cid)
    return {d: dict(sorted(v.items())) for d, v in out.items()}


def breakdown(
    cases: Sequence[dict[str, Any]],
    per_case: dict[str, Any],
    aggregate: Callable[[dict[str, Any]], dict[str, Any]],
) -> dict[str, dict[str, dict[str, Any]]]:
    """dimension -> value -> `aggregate` of the per-case results of that group's cases.

    per_case: case id -> whatever `aggregate` takes per case (it receives the sub-dict)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for dimension, by_value in groups(cases).items():
        out[dimension] = {}
        for value, ids in by_value.items():
            subset = {cid: per_case[cid] for cid in ids if cid in per_case}
            report = aggregate(subset)
            report["n_cases"] = len(subset)
            out[dimension][value] = report
    return out


def _mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def cardiac_summary(value: str, report: dict[str, Any]) -> dict[str, Any]:
    """One group's headline figures: per phase and structure the mean inter-observer Dice (over the observer
    pairs) and the latest model's pooled Dice and HD95; per measure the model's bias and the largest
    inter-observer |bias|."""
    latest = report["model_vs_observers"][-1] if report.get("model_vs_observers") else None
    inter = [r for r in report.get("contours", []) if r["kind"] == "inter"]
    contours = []
    for row in latest["contours"] if latest else []:
        same = [r for r in inter if r["phase"] == row["phase"] and r["structure"] == row["structure"]]
        contours.append(
            {
                "phase": row["phase"],
                "structure": row["structure"],
                "inter_dice_mean": _mean([r["dice_mean"] for r in same]),
                "model_dice_mean": row["dice_mean"],
                "model_hd95_mean": row["hd95_mean"],
                "n": row["n"],
            }
        )
    if latest is None:
        contours = [
            {
                "phase": phase,
                "structure": structure,
                "inter_dice_mean": _mean(
                    [r["dice_mean"] for r in inter if (r["phase"], r["structure"]) == (phase, structure)]
                ),
                "model_dice_mean": None,
                "model_hd95_mean": None,
                "n": max(
                    (r["n"] for r in inter if (r["phase"], r["structure"]) == (phase, structure)), default=0
                ),
            }
            for phase, structure in dict.fromkeys((r["phase"], r["structure"]) for r in inter)
        ]
    measures = []
    for name, s in latest["measures"].items() if latest else []:
        biases = [
            abs(r["bias"])
            for r in report.get("measures", [])
            if r["kind"] == "inter" and r["measure"] == name and r["bias"] is not None
        ]
        measures.append(
            {
                "measure": name,
                "model_bias": s["bias"],
                "model_abs_mean": s["abs_mean"],
                "inter_max_abs_bias": max(biases) if biases else None,
                "n": s["n"],
            }
        )
    return {
        "value": value,
        "n_cases": report.get("n_cases", 0),
        "model": latest["model"] if latest else None,
        "contours": contours,
        "measures": measures,
    }


def planes_summary(value: str, report: dict[str, Any]) -> dict[str, Any]:
    """One group's ultrasound headline figures: Fleiss' kappa, mean inter-observer frame agreement, and the
    latest model's macro F1 against the observers' consensus."""
    planes = report.get("planes", {})
    inter = [p["frame_agreement"] for p in planes.get("pairs", []) if p["kind"] == "inter"]
    latest = planes.get("model_vs_consensus", [])[-1:] or [None]
    vs = latest[0]["vs_consensus"] if latest[0] else {}
    return {
        "value": value,
        "n_cases": report.get("n_cases", 0),
        "fleiss_kappa": planes.get("fleiss_kappa"),
        "inter_frame_agreement": _mean(inter),
        "model": latest[0]["model"] if latest[0] else None,
        "model_macro_f1": vs.get("macro_f1"),
        "model_kappa": vs.get("kappa"),
    }


def summaries(
    parts: dict[str, dict[str, dict[str, Any]]], summarise: Callable[[str, dict[str, Any]], dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """{"site": [...], "vendor": [...]}: one summary per group value."""
    return {d: [summarise(v, r) for v, r in parts.get(d, {}).items()] for d in DIMENSIONS}
