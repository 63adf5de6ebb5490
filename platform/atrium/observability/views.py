"""`/metrics` in the Prometheus text format, optionally behind a bearer token."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from atrium.observability.metrics import REGISTRY
from atrium.settings.env import env_str


def metrics_token() -> str:
    """`settings.ATRIUM_METRICS_TOKEN`, else the environment (`ATRIUM_METRICS_TOKEN[_FILE]`); "" is open."""
    configured = getattr(settings, "ATRIUM_METRICS_TOKEN", None)
    if configured is not None:
        return str(configured)
    return env_str("ATRIUM_METRICS_TOKEN", "")


def _authorised(request: HttpRequest, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token = metrics_token()
    if token and not _authorised(request, token):
        response = HttpResponse("metrics need a bearer token\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
