"""Agreement routes: REST under /api/ and report pages (wired in atrium/urls.py)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

api_urlpatterns: list[URLPattern | URLResolver] = []
page_urlpatterns: list[URLPattern | URLResolver] = []
