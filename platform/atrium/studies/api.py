"""Studies and cases the user may see."""

from __future__ import annotations

from rest_framework import viewsets

from atrium.studies.selectors import cases_visible_to, studies_visible_to
from atrium.studies.serializers import CaseSerializer, StudySerializer


class StudyViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = StudySerializer
    lookup_field = "slug"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return studies_visible_to(self.request.user)


class CaseViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = CaseSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        queryset = cases_visible_to(self.request.user)
        study = self.request.query_params.get("study")
        if study:
            queryset = queryset.filter(study__slug=study)
        return queryset
