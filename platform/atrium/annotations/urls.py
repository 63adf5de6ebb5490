"""Annotation routes under /api/."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from atrium.annotations import api

api_urlpatterns: list[URLPattern | URLResolver] = [
    path("cases/<int:case_id>/annotations/", api.CaseAnnotationsView.as_view(), name="case-annotations"),
    path("cases/<int:case_id>/phases/", api.CasePhasesView.as_view(), name="case-phases"),
    path("annotations/<int:annotation_id>/", api.AnnotationDetailView.as_view(), name="annotation-detail"),
    path(
        "annotations/<int:annotation_id>/versions/",
        api.AnnotationVersionsView.as_view(),
        name="annotation-versions",
    ),
]
