"""Imaging routes: the frame API and uploads (under /api/) and DICOMweb (under /dicomweb/)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from atrium.imaging import dicomweb, frame_api, upload_api

api_urlpatterns: list[URLPattern | URLResolver] = [
    path("series/<int:series_id>/", frame_api.series_detail, name="series-detail"),
    path("series/<int:series_id>/frames/", frame_api.frame_range, name="series-frames"),
    path("series/<int:series_id>/frames/<int:index>/", frame_api.frame, name="series-frame"),
    path("series/<int:series_id>/labels/<int:index>/", frame_api.reference_labels, name="series-labels"),
    path("studies/<slug:slug>/uploads/", upload_api.upload, name="study-uploads"),
]

_STUDY = "studies/<str:study>"
_SERIES = f"{_STUDY}/series/<str:series>"
_INSTANCE = f"{_SERIES}/instances/<str:instance>"

dicomweb_urlpatterns: list[URLPattern | URLResolver] = [
    path("studies", dicomweb.studies, name="dicomweb-studies"),
    path("series", dicomweb.series, name="dicomweb-series-all"),
    path("instances", dicomweb.instances, name="dicomweb-instances-all"),
    path(_STUDY, dicomweb.retrieve, name="dicomweb-study"),
    path(f"{_STUDY}/metadata", dicomweb.metadata, name="dicomweb-study-metadata"),
    path(f"{_STUDY}/series", dicomweb.series, name="dicomweb-series"),
    path(f"{_STUDY}/instances", dicomweb.instances, name="dicomweb-study-instances"),
    path(_SERIES, dicomweb.retrieve, name="dicomweb-series-retrieve"),
    path(f"{_SERIES}/metadata", dicomweb.metadata, name="dicomweb-series-metadata"),
    path(f"{_SERIES}/instances", dicomweb.instances, name="dicomweb-instances"),
    path(_INSTANCE, dicomweb.retrieve, name="dicomweb-instance"),
    path(f"{_INSTANCE}/rendered", dicomweb.rendered, name="dicomweb-instance-rendered"),
    path(f"{_INSTANCE}/metadata", dicomweb.metadata, name="dicomweb-instance-metadata"),
    path(f"{_INSTANCE}/frames/<str:frame_list>", dicomweb.frames, name="dicomweb-frames"),
    path(f"{_INSTANCE}/frames/<str:frame_list>/rendered", dicomweb.rendered, name="dicomweb-frames-rendered"),
]
