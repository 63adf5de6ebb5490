"""Imaging routes: the frame API and uploads (under /api/) and DICOMweb (under /dicomweb/)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

api_urlpatterns: list[URLPattern | URLResolver] = []
dicomweb_urlpatterns: list[URLPattern | URLResolver] = []
