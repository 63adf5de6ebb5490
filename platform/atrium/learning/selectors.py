"""Reads about jobs, model versions and queues."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from atrium.learning.models import Job, ModelVersion
from atrium.studies.selectors import studies_visible_to


def jobs_visible_to(user: Any) -> QuerySet[Job]:
    if not user.is_authenticated:
        return Job.objects.none()
    if user.is_platform_admin:
        return Job.objects.all()
    return Job.objects.filter(study__in=studies_visible_to(user)) | Job.objects.filter(created_by=user)


def model_versions_visible_to(user: Any) -> QuerySet[ModelVersion]:
    if user.is_platform_admin:
        return ModelVersion.objects.all()
    return ModelVersion.objects.filter(study__in=studies_visible_to(user))


# What a version without an "arch" in its config is (the families' only or default network).
DEFAULT_ARCH = {"segmentation": "fcn", "classification": "sononet", "reconstruction": "cascade"}


def _score(metrics: dict[str, Any]) -> str:
    for key, name in (("dice_mean", "Dice"), ("macro_f1", "macro-F1"), ("accuracy", "accuracy")):
        if isinstance(metrics.get(key), (int, float)):
            return f"{name} {metrics[key]:.3f}"
    return ""


def version_rows(study: Any, limit: int = 50) -> list[dict[str, Any]]:
    """A study's model versions for its page, newest first: number, family, architecture, parent, what it
    was adapted to and what it carries besides the network, its validation score, and whether it serves."""
    rows = []
    versions = (
        ModelVersion.objects.filter(study=study).select_related("parent").order_by("-created_at", "-pk")
    )
    for v in versions[:limit]:
        config = v.config or {}
        adapted = ", ".join(f"{k} {val}" for k, val in (config.get("adapted_to") or {}).items())
        rows.append({
            "id": v.pk, "family": v.family, "number": v.number,
            "arch": config.get("arch", DEFAULT_ARCH.get(v.family, "")),
            "parent": v.parent.number if v.parent is not None else None, "adapted_to": adapted,
            "carries": "normaliser + shape prior" if config.get("restoration") else "",
            "score": _score(v.metrics or {}), "promoted": v.promoted, "created_at": v.created_at,
        })  # fmt: skip
    return rows
