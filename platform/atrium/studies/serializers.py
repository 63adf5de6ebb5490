"""Output shapes of studies and cases (serializers never save)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from atrium.imaging.models import Series
from atrium.studies.models import Case, Study


class StudySerializer(serializers.ModelSerializer):
    class Meta:
        model = Study
        fields = [
            "id",
            "slug",
            "name",
            "task_kind",
            "blind",
            "blind_hides_model",
            "reads_per_case",
            "label_schema",
            "al_strategy",
        ]


class SeriesMetaSerializer(serializers.ModelSerializer):
    window = serializers.SerializerMethodField()
    n_frames = serializers.IntegerField(read_only=True)

    class Meta:
        model = Series
        fields = [
            "id",
            "modality",
            "layout",
            "shape",
            "dtype",
            "pixel_spacing_mm",
            "slice_thickness_mm",
            "slice_spacing_mm",
            "frame_time_ms",
            "window",
            "n_frames",
            "manufacturer",
        ]

    def get_window(self, series: Series) -> dict[str, Any]:
        return {"center": series.window_center, "width": series.window_width}


class CaseSerializer(serializers.ModelSerializer):
    study = StudySerializer()
    series = serializers.SerializerMethodField()

    class Meta:
        model = Case
        fields = [
            "id",
            "title",
            "status",
            "split",
            "ed_phase",
            "es_phase",
            "vendor",
            "site",
            "study",
            "series",
        ]

    def get_series(self, case: Case) -> list[dict[str, Any]]:
        return [SeriesMetaSerializer(case.series).data]
