"""Django's ASGI handler with the whole middleware chain run synchronously, in one hop to a thread.

Under the stock handler the chain is async wherever a middleware allows it, and Django's own middlewares
then run each process_request/process_response through sync_to_async, while a sync-only middleware
(WhiteNoise, ours) switches back with async_to_sync: a dozen thread/event-loop hand-overs per request, each
costing CPU and, on a busy event loop, a wait. Every view here is sync, so the chain runs as under WSGI, in
the request's own thread; websockets stay on Channels.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest


class SyncChainASGIHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> Any:
        # thread_sensitive: the thread of this request's ThreadSensitiveContext (opened in __call__), so
        # the database connection the chain uses is the one request_started/finished look after.
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


def get_asgi_application() -> SyncChainASGIHandler:
    """As django.core.asgi.get_asgi_application, with the sync chain."""
    import django

    django.setup(set_prefix=False)
    return SyncChainASGIHandler()
