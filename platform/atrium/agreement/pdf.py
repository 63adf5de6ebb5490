"""The report as a PDF (reportlab): the UK Biobank table, contour metrics, reliability, trends, planes and
Bland-Altman plots."""

from __future__ import annotations

import io
from typing import Any

from reportlab.graphics.shapes import Circle, Drawing, Line, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from atrium.agreement.compute import MEASURE_LABELS


def _f(v: Any, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _table(rows: list[list[str]]) -> Table:
    t = Table(rows, repeatRows=1)
    t.setStyle(
        TableStyle(
            [
                ("FONTSIZE", (0, 0), (-1, -1), 7),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef4")),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
            ]
        )
    )
    return t


def _ba_drawing(row: dict[str, Any], width: float = 240, height: float = 160) -> Drawing:
    d = Drawing(width, height)
    d.add(
        String(
            4, height - 10, f"{row['pair']}: {MEASURE_LABELS.get(row['measure'], row['measure'])}", fontSize=7
        )
    )
    pts = row.get("points") or []
    lines = [v for v in (row.get("bias"), row.get("loa_low"), row.get("loa_high")) if v is not None]
    if not pts:
        return d
    xs, ys = [p[0] for p in pts], [p[1] for p in pts] + lines
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)
    left, bottom, w, h = 30, 15, width - 40, height - 35

    def sx(v: float) -> float:
        return left + (v - x0) / (x1 - x0) * w

    def sy(v: float) -> float:
        return bottom + (v - y0) / (y1 - y0) * h

    for v in lines:
        d.add(Line(left, sy(v), left + w, sy(v), strokeColor=colors.red, strokeWidth=0.5))
        d.add(String(left + w - 30, sy(v) + 2, f"{v:.2f}", fontSize=6))
    for x, y in pts[:1000]:
        d.add(Circle(sx(x), sy(y), 1.5, fillColor=colors.HexColor("#224466"), strokeColor=None))
    return d


def report_pdf(study: Any, report: Any, data: dict[str, Any], changes: int) -> bytes:
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=landscape(A4), title=f"Agreement report {study.slug}")
    styles = getSampleStyleSheet()
    story: list[Any] = [Paragraph(f"Agreement report: {study.name}", styles["Title"])]
    computed = report.computed_at.strftime("%Y-%m-%d %H:%M UTC") if report and report.computed_at else "never"
    stale = f" (stale: {changes} annotation changes since)" if changes else ""
    story.append(Paragraph(f"Computed at {computed}{stale}", styles["Normal"]))
    table = data.get("ukbb_table")
    if table and table["columns"]:
        story += [Spacer(1, 8), Paragraph("Clinical measures: |difference|, mean ± SD", styles["Heading2"])]
        rows = [["", *[f"{c['name']} (n = {c['n']})" for c in table["columns"]]]]
        rows += [[r["label"], *[c["text"] for c in r["cells"]]] for r in table["rows"]]
        story.append(_table(rows))
    if data.get("contours"):
        story += [Spacer(1, 8), Paragraph("Contours", styles["Heading2"])]
        rows = [["pair", "phase", "structure", "n", "missing", "Dice", "HD (mm)", "HD95 (mm)", "MCD (mm)"]]
        for r in data["contours"]:
            rows.append(
                [
                    r["pair"],
                    r["phase"],
                    r["structure"],
                    str(r["n"]),
                    str(r["n_missing"]),
                    _f(r["dice_mean"]),
                    _f(r["hausdorff_mean"], 2),
                    _f(r["hd95_mean"], 2),
                    _f(r["mcd_mean"], 2),
                ]
            )
        story.append(_table(rows))
    if data.get("reliability"):
        story += [Spacer(1, 8), Paragraph("Reliability", styles["Heading2"])]
        rows = [["group", "measure", "n", "ICC(2,1)", "CV (%)"]]
        rows += [
            [r["group"], MEASURE_LABELS[r["measure"]], str(r["n"]), _f(r["icc"]), _f(r["cv_pct"], 2)]
            for r in data["reliability"]
        ]
        story.append(_table(rows))
    if data.get("trends"):
        story += [Spacer(1, 8), Paragraph("Model versions", styles["Heading2"])]
        rows = [["model", "round", "within inter-observer range"]]
        rows += [
            [t["model"], str(t["round"] or "-"), "yes" if t["within_inter_observer"] else "no"]
            for t in data["trends"]
        ]
        story.append(_table(rows))
    planes = data.get("planes")
    if planes:
        story += [
            Spacer(1, 8),
            Paragraph(f"Planes: Fleiss' kappa {_f(planes['fleiss_kappa'])}", styles["Heading2"]),
        ]
        rows = [["pair", "frames", "frame agreement", "clip agreement", "Cohen's kappa"]]
        rows += [
            [p["pair"], str(p["n_frames"]), _f(p["frame_agreement"]), _f(p["clip_agreement"]), _f(p["kappa"])]
            for p in planes["pairs"]
        ]
        story.append(_table(rows))
    for dimension, groups in (data.get("by_group") or {}).items():
        if not groups:
            continue
        story += [Spacer(1, 8), Paragraph(f"By {dimension}", styles["Heading2"])]
        if planes:
            rows = [[dimension, "cases", "Fleiss' kappa", "frame agreement", "model macro F1"]]
            rows += [
                [
                    g["value"],
                    str(g["n_cases"]),
                    _f(g["fleiss_kappa"]),
                    _f(g["inter_frame_agreement"]),
                    _f(g["model_macro_f1"]),
                ]
                for g in groups
            ]
        else:
            rows = [
                [dimension, "cases", "phase", "structure", "inter-observer Dice", "model Dice", "model HD95"]
            ]
            rows += [
                [
                    g["value"],
                    str(g["n_cases"]),
                    c["phase"],
                    c["structure"],
                    _f(c["inter_dice_mean"]),
                    _f(c["model_dice_mean"]),
                    _f(c["model_hd95_mean"], 2),
                ]
                for g in groups
                for c in g["contours"]
            ]
        story.append(_table(rows))
    ba = [r for r in data.get("measures", []) if r["measure"] in ("lvedv", "lvm", "rvedv") and r["points"]][
        :12
    ]
    if ba:
        story += [Spacer(1, 8), Paragraph("Bland-Altman", styles["Heading2"])]
        cells = [_ba_drawing(r) for r in ba]
        grid = [cells[i : i + 3] for i in range(0, len(cells), 3)]
        story.append(Table(grid))
    doc.build(story)
    return buf.getvalue()
