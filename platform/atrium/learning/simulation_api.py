"""REST for simulated learning curves: GET /api/studies/<slug>/learning-curves/ (members and admins), and
the check applied to a `simulate` job's parameters before it is queued."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from atrium.learning.simulation import SimulationError, clean_settings, study_has_ground_truth
from atrium.learning.simulation_plot import latest_run_curves, runs_of, summary
from atrium.studies.models import Study
from atrium.studies.selectors import studies_visible_to


def validated_simulation_params(study: Study, params: dict[str, Any]) -> dict[str, Any]:
    """The job parameters, checked and completed; a 400 naming the problem otherwise."""
    try:
        settings = clean_settings(study, params)
    except SimulationError as exc:
        raise ValidationError({"params": [str(exc)]}) from None
    if not study_has_ground_truth(study):
        raise ValidationError(
            {"study": [f"study {study.slug!r} has no cases with ground truth to act as the oracle"]}
        )
    return settings.as_params()


class LearningCurveSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    strategy = serializers.CharField()
    family = serializers.CharField()
    metric = serializers.CharField()
    params = serializers.JSONField()  # type: ignore[assignment]
    points = serializers.JSONField()  # type: ignore[assignment]
    full_data_score = serializers.FloatField(allow_null=True)
    labels_to_95pct = serializers.IntegerField(allow_null=True)
    job = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()


class LearningCurvesResponseSerializer(serializers.Serializer):
    study = serializers.CharField()
    runs = serializers.ListField(child=serializers.DictField())
    curves = LearningCurveSerializer(many=True)


class LearningCurvesView(APIView):
    """The curves of one simulation run (the newest, or ?run=ID), optionally of one ?family=."""

    @extend_schema(
        parameters=[OpenApiParameter("run", str), OpenApiParameter("family", str)],
        responses=LearningCurvesResponseSerializer,
    )
    def get(self, request: Request, slug: str) -> Response:
        study = studies_visible_to(request.user).filter(slug=slug).first()
        if study is None:
            raise NotFound(f"study {slug!r} does not exist or is not yours")
        family = request.query_params.get("family") or None
        run = request.query_params.get("run") or None
        curves = latest_run_curves(study, family=family, run=run)
        to95 = {row["strategy"]: row["labels_to_95pct"] for row in summary(curves)}
        items = [
            {
                "id": c.pk,
                "strategy": c.strategy,
                "family": c.family,
                "metric": c.metric,
                "params": c.params,
                "points": c.points,
                "full_data_score": c.full_data_score,
                "labels_to_95pct": to95[c.strategy],
                "job": c.job_id,
                "created_at": c.created_at,
            }
            for c in curves
        ]
        runs = [{**r, "created_at": r["created_at"].isoformat()} for r in runs_of(study, family)]
        return Response(
            {"study": study.slug, "runs": runs, "curves": LearningCurveSerializer(items, many=True).data}
        )
