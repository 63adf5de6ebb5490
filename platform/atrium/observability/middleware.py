"""Request latency middleware: observes every response in `atrium_http_request_duration_seconds`."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from atrium.observability.metrics import REQUEST_LATENCY

UNMATCHED = "<unmatched>"


def route_label(request: HttpRequest) -> str:
    """The URL pattern's name (or route), never the raw path: ids in paths would explode the series."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return UNMATCHED
    return match.view_name or match.route or UNMATCHED


class RequestLatencyMiddleware:
    """Place it first in MIDDLEWARE so the time includes every other middleware. Sync and async."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.is_async:
            return self.__acall__(request)
        start = time.perf_counter()
        response = self.get_response(request)
        self._observe(request, response, start)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        start = time.perf_counter()
        response = await self.get_response(request)
        self._observe(request, response, start)
        return response

    @staticmethod
    def _observe(request: HttpRequest, response: HttpResponseBase, start: float) -> None:
        REQUEST_LATENCY.labels(
            method=request.method or "", route=route_label(request), status=str(response.status_code)
        ).observe(time.perf_counter() - start)
