"""Views of a stored report: filtering by reader / structure / phase / round / site / vendor, CSV rows, SVG
plots. Pure."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from html import escape
from typing import Any

from atrium.agreement.breakdown import group_value
from atrium.agreement.compute import MEASURE_LABELS, ukbb_table


@dataclass(frozen=True)
class Filters:
    reader: str = ""
    structure: str = ""
    phase: str = ""
    round: int | None = None
    site: str = ""
    vendor: str = ""

    @classmethod
    def from_query(cls, query: Any) -> Filters:
        raw_round = str(query.get("round", "") or "").strip()
        return cls(
            reader=str(query.get("reader", "") or "").strip(),
            structure=str(query.get("structure", "") or "").strip(),
            phase=str(query.get("phase", "") or "").strip().upper(),
            round=int(raw_round) if raw_round.isdigit() else None,
            site=str(query.get("site", "") or "").strip(),
            vendor=str(query.get("vendor", "") or "").strip(),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "reader": self.reader,
            "structure": self.structure,
            "phase": self.phase,
            "round": self.round,
            "site": self.site,
            "vendor": self.vendor,
        }


def _group(data: dict[str, Any], f: Filters) -> dict[str, Any]:
    """The report of the cases of the selected site and/or vendor (stored at compute time), with the
    sections that depend on cases replaced; an unknown site or vendor gives empty sections and n_cases 0."""
    parts = data.get("breakdown")
    if parts is None:  # computed before reports kept their breakdowns
        return {**data, "n_cases": None, "group_unavailable": "recompute the report to break it down"}
    if f.site and f.vendor:
        group = parts.get("site_vendor", {}).get(f"{f.site}|{f.vendor}")
    elif f.site:
        group = parts.get("site", {}).get(f.site)
    else:
        group = parts.get("vendor", {}).get(f.vendor)
    out = dict(data)
    wanted = [
        c
        for c in data.get("cases", [])
        if (not f.site or group_value(c, "site") == f.site)
        and (not f.vendor or group_value(c, "vendor") == f.vendor)
    ]
    out["cases"] = wanted
    if group is None:
        for key in ("pairs", "contours", "measures", "model_vs_observers", "reliability", "trends"):
            if key in data:
                out[key] = []
        if "ukbb_table" in data:
            out["ukbb_table"] = ukbb_table(None, [])
        if "missing" in data:
            out["missing"] = {"per_reader": [], "cases": [], "n_cases": 0}
        if "planes" in data:
            out["planes"] = {
                **data["planes"],
                "pairs": [],
                "model_vs_consensus": [],
                "trends": [],
                "fleiss_kappa": None,
            }
        out["n_cases"] = 0
        return out
    out.update({k: v for k, v in group.items()})
    return out


def _model_keys_for_round(data: dict[str, Any], number: int | None) -> set[str] | None:
    if number is None:
        return None
    return {r["key"] for r in data.get("readers", []) if r["kind"] == "model" and r.get("round") == number}


def _keep_pair(row: dict[str, Any], f: Filters, models: set[str] | None) -> bool:
    keys = {row.get("a"), row.get("b"), row.get("model")}
    if f.reader and f.reader not in keys:
        return False
    if models is not None:
        model_keys = {k for k in keys if isinstance(k, str) and k.startswith("model:")}
        if model_keys and not model_keys & models:
            return False
    return True


def _keep_cell(row: dict[str, Any], f: Filters) -> bool:
    return (not f.structure or row.get("structure") == f.structure) and (
        not f.phase or row.get("phase") == f.phase
    )


def filter_report(data: dict[str, Any], f: Filters) -> dict[str, Any]:
    """A copy of the report data with only the rows the filters select (server-side)."""
    if not data:
        return data
    if f.site or f.vendor:
        data = _group(data, f)
    out = {k: v for k, v in data.items() if k != "breakdown"}
    if "by_group" in data:
        out["by_group"] = {
            d: [g for g in rows if not getattr(f, d) or g["value"] == getattr(f, d)]
            for d, rows in data["by_group"].items()
        }
    models = _model_keys_for_round(data, f.round)
    if "contours" in data:
        out["contours"] = [r for r in data["contours"] if _keep_pair(r, f, models) and _keep_cell(r, f)]
        out["measures"] = [r for r in data["measures"] if _keep_pair(r, f, models)]
        pooled = [m for m in data.get("model_vs_observers", []) if models is None or m["model"] in models]
        pooled = [
            m for m in pooled if not f.reader or f.reader == m["model"] or not f.reader.startswith("model:")
        ]
        out["model_vs_observers"] = [
            {**m, "contours": [r for r in m["contours"] if _keep_cell(r, f)]} for m in pooled
        ]
        out["trends"] = [
            {**t, "dice": [r for r in t["dice"] if _keep_cell(r, f)]}
            for t in data.get("trends", [])
            if models is None or t["model"] in models
        ]
        out["ukbb_table"] = ukbb_table(pooled[-1] if pooled else None, out["measures"])
        missing = data.get("missing", {})
        if f.reader:
            out["missing"] = {
                **missing,
                "per_reader": [r for r in missing.get("per_reader", []) if r["reader"] == f.reader],
                "cases": [r for r in missing.get("cases", []) if r["reader"] == f.reader],
            }
    if "planes" in data:
        planes = dict(data["planes"])
        planes["pairs"] = [r for r in planes["pairs"] if _keep_pair(r, f, models)]
        planes["model_vs_consensus"] = [
            m
            for m in planes["model_vs_consensus"]
            if _keep_pair(m, f, models) or (f.reader and f.reader.startswith("obs:"))
        ]
        planes["trends"] = [t for t in planes["trends"] if models is None or t["model"] in models]
        out["planes"] = planes
    return out


def _cell(v: Any) -> Any:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.6g}"
    return "" if v is None else v


def csv_text(data: dict[str, Any]) -> str:
    """The report as one long CSV: section, pair, a, b, structure/measure, phase, statistic, value, n."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["section", "pair", "kind", "a", "b", "item", "phase", "statistic", "value", "n"])
    for r in data.get("contours", []):
        for stat in ("dice", "hausdorff", "hd95", "mcd"):
            for part in ("mean", "sd"):
                w.writerow(
                    [
                        "contours",
                        r["pair"],
                        r["kind"],
                        r["a"],
                        r["b"],
                        r["structure"],
                        r["phase"],
                        f"{stat}_{part}",
                        _cell(r[f"{stat}_{part}"]),
                        r["n"],
                    ]
                )
        w.writerow(
            [
                "contours",
                r["pair"],
                r["kind"],
                r["a"],
                r["b"],
                r["structure"],
                r["phase"],
                "n_missing",
                r["n_missing"],
                r["n"],
            ]
        )
    for r in data.get("measures", []):
        for stat in ("abs_mean", "abs_sd", "rel_mean_pct", "rel_sd_pct", "bias", "sd", "loa_low", "loa_high"):
            w.writerow(
                [
                    "measures",
                    r["pair"],
                    r["kind"],
                    r["a"],
                    r["b"],
                    r["measure"],
                    "",
                    stat,
                    _cell(r[stat]),
                    r["n"],
                ]
            )
    table = data.get("ukbb_table")
    if table:
        for row in table["rows"]:
            for col, cell in zip(table["columns"], row["cells"], strict=True):
                w.writerow(
                    [
                        "ukbb_table",
                        col["name"],
                        row["kind"],
                        "",
                        "",
                        row["label"],
                        "",
                        "mean ± sd",
                        cell["text"],
                        cell["n"],
                    ]
                )
    for r in data.get("reliability", []):
        for stat in ("icc", "cv_pct"):
            w.writerow(
                ["reliability", r["group"], r["kind"], "", "", r["measure"], "", stat, _cell(r[stat]), r["n"]]
            )
    for t in data.get("trends", []):
        for r in t["dice"]:
            w.writerow(
                [
                    "trends",
                    t["model"],
                    f"round {t['round']}",
                    "",
                    "",
                    r["structure"],
                    r["phase"],
                    "dice_mean",
                    _cell(r["dice_mean"]),
                    "",
                ]
            )
        for r in t["bias"]:
            w.writerow(
                [
                    "trends",
                    t["model"],
                    f"round {t['round']}",
                    "",
                    "",
                    r["measure"],
                    "",
                    "bias",
                    _cell(r["bias"]),
                    r["n"],
                ]
            )
    planes = data.get("planes")
    if planes:
        for r in planes["pairs"]:
            for stat in ("frame_agreement", "clip_agreement", "clip_label_agreement", "kappa", "clip_kappa"):
                w.writerow(
                    [
                        "planes",
                        r["pair"],
                        r["kind"],
                        r["a"],
                        r["b"],
                        "",
                        "",
                        stat,
                        _cell(r[stat]),
                        r["n_frames"],
                    ]
                )
        w.writerow(
            [
                "planes",
                "all observers",
                "inter",
                "",
                "",
                "",
                "",
                "fleiss_kappa",
                _cell(planes["fleiss_kappa"]),
                planes["fleiss_n_frames"],
            ]
        )
        for m in planes["model_vs_consensus"]:
            for p in m["vs_consensus"]["per_plane"]:
                for stat in ("precision", "recall", "f1"):
                    w.writerow(
                        [
                            "planes",
                            f"{m['model']} vs consensus",
                            "model",
                            m["model"],
                            "consensus",
                            p["plane"],
                            "",
                            stat,
                            _cell(p[stat]),
                            p["support"],
                        ]
                    )
    for dimension, groups in (data.get("by_group") or {}).items():
        for g in groups:
            for c in g.get("contours", []):
                for stat in ("inter_dice_mean", "model_dice_mean", "model_hd95_mean"):
                    row = [f"by_{dimension}", g["value"], "", "", "", c["structure"], c["phase"], stat]
                    w.writerow([*row, _cell(c[stat]), c["n"]])
            for stat in ("fleiss_kappa", "inter_frame_agreement", "model_macro_f1"):
                if stat in g:
                    w.writerow(
                        [
                            f"by_{dimension}",
                            g["value"],
                            "",
                            "",
                            "",
                            "",
                            "",
                            stat,
                            _cell(g[stat]),
                            g["n_cases"],
                        ]
                    )
    for r in data.get("missing", {}).get("per_reader", []):
        for item, count in r["missing"].items():
            w.writerow(["missing", "", "", r["reader"], "", item, "", "cases", count, r["cases"]])
    return buf.getvalue()


def bland_altman_svg(row: dict[str, Any], width: int = 360, height: int = 240) -> str:
    """A Bland-Altman plot (difference against mean, bias and limits of agreement) as inline SVG."""
    points = row.get("points") or []
    title = f"{row['pair']}: {MEASURE_LABELS.get(row['measure'], row['measure'])}"
    pad_l, pad_r, pad_t, pad_b = 48, 10, 22, 30
    if not points:
        return (
            f'<svg class="ba" width="{width}" height="{height}" role="img" aria-label="{escape(title)}">'
            f'<text x="10" y="20">{escape(title)}: no pairs</text></svg>'
        )
    xs = [p[0] for p in points]
    ys = [p[1] for p in points] + [
        v for v in (row.get("loa_low"), row.get("loa_high"), row.get("bias")) if v is not None
    ]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if x1 - x0 < 1e-9:
        x0, x1 = x0 - 1, x1 + 1
    if y1 - y0 < 1e-9:
        y0, y1 = y0 - 1, y1 + 1
    ym = (y1 - y0) * 0.1
    y0, y1 = y0 - ym, y1 + ym

    def sx(v: float) -> float:
        return pad_l + (v - x0) / (x1 - x0) * (width - pad_l - pad_r)

    def sy(v: float) -> float:
        return pad_t + (y1 - v) / (y1 - y0) * (height - pad_t - pad_b)

    parts = [
        f'<svg class="ba" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="Bland-Altman {escape(title)}">',
        f'<text x="{pad_l}" y="14" font-size="12">{escape(title)}</text>',
        f'<rect x="{pad_l}" y="{pad_t}" width="{width - pad_l - pad_r}" height="{height - pad_t - pad_b}" '
        'fill="none" stroke="#999"/>',
    ]
    for name, value, dash in (
        ("bias", row.get("bias"), ""),
        ("-1.96 SD", row.get("loa_low"), "4 3"),
        ("+1.96 SD", row.get("loa_high"), "4 3"),
    ):
        if value is None:
            continue
        y = sy(value)
        parts.append(
            f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{y:.1f}" y2="{y:.1f}" stroke="#c33" '
            f'stroke-dasharray="{dash}"/>'
        )
        parts.append(
            f'<text x="{width - pad_r - 2}" y="{y - 3:.1f}" font-size="10" text-anchor="end">'
            f"{escape(name)} {value:.2f}</text>"
        )
    for x, y in points[:2000]:
        parts.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5" fill="#246"/>')
    parts.append(f'<text x="{pad_l}" y="{height - 8}" font-size="10">mean {x0:.1f}-{x1:.1f}</text>')
    parts.append(f'<text x="4" y="{pad_t + 10}" font-size="10">{y1:.1f}</text>')
    parts.append(f'<text x="4" y="{height - pad_b}" font-size="10">{y0:.1f}</text>')
    parts.append("</svg>")
    return "".join(parts)
