"""The ASGI entry point runs Django's middleware chain synchronously, with every middleware still applied."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, iscoroutinefunction
from channels.testing import HttpCommunicator


def test_the_middleware_chain_is_sync_under_asgi():
    from atrium.asgi import django_asgi_app

    assert not iscoroutinefunction(django_asgi_app._middleware_chain)


@pytest.mark.django_db(transaction=True)
def test_a_request_through_asgi_passes_every_middleware():
    from atrium.asgi import application

    def fetch(path: str) -> dict:
        return async_to_sync(
            HttpCommunicator(application, "GET", path, headers=[(b"host", b"localhost")]).get_response
        )()

    live = fetch("/health/live")
    assert live["status"] == 200
    headers = {k.decode().lower(): v.decode() for k, v in live["headers"]}
    assert "content-security-policy" in headers  # atrium.security.SecurityHeadersMiddleware
    assert headers.get("x-frame-options") == "DENY"  # Django's clickjacking middleware, innermost

    api = fetch("/api/studies/")
    assert api["status"] in (401, 403)  # authentication ran and refused an anonymous caller
