"""Reads and presentation of simulated learning curves: the runs of a study, a summary per strategy and
the plot (inline SVG: score against labelled cases, one line per strategy, the 95 % target dashed)."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

from django.db.models import QuerySet

from atrium.learning.models import LearningCurve
from atrium.studies.models import Study

TARGET_FRACTION = 0.95
COLOURS = ("#555555", "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
METRIC_LABELS = {"dice": "validation Dice", "f1": "validation macro-F1"}


def curves_of(study: Study, *, family: str | None = None, run: str | None = None) -> QuerySet[LearningCurve]:
    queryset = LearningCurve.objects.filter(study=study)
    if family:
        queryset = queryset.filter(family=family)
    if run:
        queryset = queryset.filter(params__run=run)
    return queryset


def runs_of(study: Study, family: str | None = None) -> list[dict[str, Any]]:
    """The study's simulation runs, newest first: run id, family, created_at, strategies."""
    runs: dict[str, dict[str, Any]] = {}
    for curve in curves_of(study, family=family).order_by("-created_at", "-id"):
        key = str(curve.params.get("run") or f"curve-{curve.pk}")
        entry = runs.setdefault(
            key, {"run": key, "family": curve.family, "created_at": curve.created_at, "strategies": []}
        )
        entry["strategies"].append(curve.strategy)
    return list(runs.values())


def latest_run_curves(
    study: Study, *, family: str | None = None, run: str | None = None
) -> list[LearningCurve]:
    """The curves of one run (the newest unless `run` names one), ordered random first, then by name."""
    if run is None:
        runs = runs_of(study, family)
        if not runs:
            return []
        run = runs[0]["run"]
    curves = list(curves_of(study, family=family, run=run))
    if not curves and run.startswith("curve-"):
        curves = list(curves_of(study, family=family).filter(pk=run.removeprefix("curve-")))
    return sorted(curves, key=lambda c: (c.strategy != "random", c.strategy))


def labels_to_target(curve: LearningCurve, fraction: float = TARGET_FRACTION) -> int | None:
    """The first labelled-case count at which the curve reaches `fraction` of its full-data score."""
    if curve.full_data_score is None:
        return None
    target = fraction * curve.full_data_score
    for point in curve.points:
        if point["score"] >= target:
            return int(point["n_labelled"])
    return None


def summary(curves: list[LearningCurve]) -> list[dict[str, Any]]:
    """A row per curve: strategy, labels_to_95pct, the ratio to random's count, final score."""
    to95 = {c.strategy: labels_to_target(c) for c in curves}
    random_n = to95.get("random")
    rows = []
    for c in curves:
        n = to95[c.strategy]
        rows.append(
            {
                "strategy": c.strategy,
                "labels_to_95pct": n,
                "vs_random": round(n / random_n, 3) if n is not None and random_n else None,
                "final_score": c.points[-1]["score"] if c.points else None,
                "final_n_labelled": c.points[-1]["n_labelled"] if c.points else None,
                "full_data_score": c.full_data_score,
            }
        )
    return rows


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        return [low]
    step = (high - low) / (count - 1)
    return [low + i * step for i in range(count)]


@dataclass(frozen=True)
class PlotBox:
    width: int = 640
    height: int = 360
    left: int = 56
    right: int = 150
    top: int = 20
    bottom: int = 44


def learning_curves_svg(curves: list[LearningCurve], box: PlotBox | None = None) -> str:
    """Score against labelled cases, one polyline per curve, a dashed line at 95 % of the full-data score
    (the mean over the curves when they differ), a legend on the right and both axes labelled."""
    b = box or PlotBox()
    metric = curves[0].metric if curves else "score"
    ylabel = METRIC_LABELS.get(metric, metric)
    plotted = [c for c in curves if c.points]
    if not plotted:
        return (
            f'<svg class="learning-curves" xmlns="http://www.w3.org/2000/svg" width="{b.width}" height="60" '
            'role="img" aria-label="no learning curves"><text x="10" y="30">No learning curves yet.</text></svg>'
        )
    fulls = [c.full_data_score for c in plotted if c.full_data_score is not None]
    target = TARGET_FRACTION * sum(fulls) / len(fulls) if fulls else None
    xs = [p["n_labelled"] for c in plotted for p in c.points]
    ys = [p["score"] for c in plotted for p in c.points] + ([target] if target is not None else [])
    ys += fulls
    # Dice and F1 live in [0, 1]: a fixed axis keeps runs comparable by eye.
    x0, x1 = 0.0, max(float(max(xs)), 1.0)
    y0, y1 = min(0.0, min(ys)), max(1.0, max(ys))
    plot_w, plot_h = b.width - b.left - b.right, b.height - b.top - b.bottom

    def sx(v: float) -> float:
        return b.left + (v - x0) / (x1 - x0) * plot_w

    def sy(v: float) -> float:
        return b.top + (y1 - v) / (y1 - y0) * plot_h

    parts = [
        f'<svg class="learning-curves" xmlns="http://www.w3.org/2000/svg" width="{b.width}" height="{b.height}" '
        f'role="img" aria-label="learning curves: {escape(ylabel)} against labelled cases">',
        f'<rect x="{b.left}" y="{b.top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>',
    ]
    for v in _nice_ticks(y0, y1):
        y = sy(v)
        parts.append(f'<line x1="{b.left - 4}" x2="{b.left}" y1="{y:.1f}" y2="{y:.1f}" stroke="#999"/>')
        parts.append(
            f'<text x="{b.left - 6}" y="{y + 3:.1f}" font-size="10" text-anchor="end">{v:.2f}</text>'
        )
    for v in _nice_ticks(x0, x1):
        x = sx(v)
        top = b.top + plot_h
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + 4}" stroke="#999"/>')
        parts.append(f'<text x="{x:.1f}" y="{top + 15}" font-size="10" text-anchor="middle">{v:.0f}</text>')
    parts.append(
        f'<text class="axis-label" x="{b.left + plot_w / 2:.1f}" y="{b.height - 6}" font-size="11" '
        'text-anchor="middle">labelled cases</text>'
    )
    parts.append(
        f'<text class="axis-label" x="12" y="{b.top + plot_h / 2:.1f}" font-size="11" text-anchor="middle" '
        f'transform="rotate(-90 12 {b.top + plot_h / 2:.1f})">{escape(ylabel)}</text>'
    )
    if target is not None:
        y = sy(target)
        parts.append(
            f'<line class="target" x1="{b.left}" x2="{b.left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#000" stroke-dasharray="5 4"/>'
        )
        parts.append(
            f'<text x="{b.left + plot_w - 4}" y="{y - 4:.1f}" font-size="10" text-anchor="end">'
            f"95 % of full data ({target:.3f})</text>"
        )
    legend_x = b.left + plot_w + 12
    for i, curve in enumerate(plotted):
        colour = COLOURS[i % len(COLOURS)]
        points = " ".join(f"{sx(p['n_labelled']):.1f},{sy(p['score']):.1f}" for p in curve.points)
        name = escape(curve.strategy)
        parts.append(
            f'<polyline class="curve" data-strategy="{name}" points="{points}" fill="none" '
            f'stroke="{colour}" stroke-width="2"/>'
        )
        for p in curve.points:
            parts.append(
                f'<circle cx="{sx(p["n_labelled"]):.1f}" cy="{sy(p["score"]):.1f}" r="2.5" fill="{colour}"/>'
            )
        y = b.top + 10 + i * 16
        parts.append(
            f'<line class="legend" x1="{legend_x}" x2="{legend_x + 18}" y1="{y}" y2="{y}" stroke="{colour}" '
            'stroke-width="2"/>'
        )
        parts.append(f'<text x="{legend_x + 24}" y="{y + 4}" font-size="11">{name}</text>')
    parts.append("</svg>")
    return "".join(parts)
