"""The request latency middleware observes each response under its route name, sync and async."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient

from atrium.observability.metrics import REGISTRY

MIDDLEWARE_FIRST = "atrium.observability.middleware.RequestLatencyMiddleware"


@pytest.fixture
def with_latency_middleware(settings):
    """The settings put the middleware first; the tests rely on that."""
    assert settings.MIDDLEWARE[0] == MIDDLEWARE_FIRST


def observed(route: str, status: str, method: str = "GET") -> float:
    labels = {"method": method, "route": route, "status": status}
    return REGISTRY.get_sample_value("atrium_http_request_duration_seconds_count", labels) or 0.0


def test_a_request_is_counted_under_its_url_name_and_status(client, with_latency_middleware):
    before = observed("health-live", "200")
    assert client.get("/health/live").status_code == 200
    assert client.get("/health/live").status_code == 200
    assert observed("health-live", "200") == before + 2
    total = REGISTRY.get_sample_value(
        "atrium_http_request_duration_seconds_sum", {"method": "GET", "route": "health-live", "status": "200"}
    )
    assert total is not None and total > 0


def test_paths_that_match_no_route_share_one_series(client, with_latency_middleware):
    before = observed("<unmatched>", "404")
    client.get("/no/such/page/123")
    client.get("/no/such/page/456")
    assert observed("<unmatched>", "404") == before + 2


def test_the_middleware_runs_on_the_async_path_that_daphne_uses(with_latency_middleware):
    async def fetch() -> int:
        response = await AsyncClient().get("/health/live")
        return response.status_code

    before = observed("health-live", "200")
    assert async_to_sync(fetch)() == 200
    assert observed("health-live", "200") == before + 1
