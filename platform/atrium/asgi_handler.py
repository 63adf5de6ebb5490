"""Django's ASGI handler with the whole middleware chain run synchronously, in one hop to a thread.

Under the stock handler the chain is async wherever a middleware allows it, and Django's own middlewares
then run each process_request/process_response through sync_to_async, while a sync-only middleware
(WhiteNoise, ours) switches back with async_to_sync: a dozen thread/event-loop hand-overs per request, each
costing CPU and, on a busy event loop, a wait. Every view here is sync, so the chain runs as under WSGI, in
the request's own thread, and a request makes two hops in all (see `handle`); websockets stay on Channels.

Each request still gets a thread of its own for its sync work, as under the stock handler, but from a pool
of long-lived threads instead of a new thread per request (the stock ThreadSensitiveContext starts one and
joins it afterwards): no thread start per request, and each thread keeps its database connection between
requests (CONN_MAX_AGE) instead of opening one per request.

Bodies go out in one ASGI message (frame arrays in pieces, see atrium.imaging.array_response).
"""

from __future__ import annotations

import gc
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse
from django.http.response import HttpResponseBase
from django.urls import set_script_prefix


class RequestThreads:
    """Single-thread executors lent to one request at a time; at most `keep` idle ones are kept."""

    def __init__(self, keep: int = 32) -> None:
        self.keep = keep
        self._idle: list[ThreadPoolExecutor] = []
        self._lock = threading.Lock()
        self.started = 0

    def acquire(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            self.started += 1
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="atrium-request")

    def release(self, executor: ThreadPoolExecutor) -> None:
        with self._lock:
            if len(self._idle) < self.keep:
                self._idle.append(executor)
                return
        executor.shutdown(wait=False)

    def close_connections(self) -> None:
        """Close the database connections the idle threads keep (before dropping a database, say)."""
        from django.db import connections

        with self._lock:
            idle = list(self._idle)
        for executor in idle:
            executor.submit(connections.close_all).result()


# One pool per process, shared by every handler in it.
request_threads = RequestThreads()


class SyncChainASGIHandler(ASGIHandler):
    # Django sends a body in 64 KiB messages; each is a trip through the server's flow control and the
    # event loop, which for a clip of frames (tens of MB) cost more than the bytes. One message per body,
    # or per piece of an ArrayResponse.
    chunk_size = 1 << 30

    def __init__(self) -> None:
        super().__init__()
        self.threads = request_threads

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        executor = self.threads.acquire()
        try:
            # The caller owns the executor: the context does not shut it down on exit.
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            self.threads.release(executor)

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def handle(self, scope: Any, receive: Any, send: Any) -> None:
        """As Django's, with the request's sync work in one hop to its thread (request_started, building the
        request, the whole middleware chain and the view), then the body sent, then a second hop to close
        the response (request_finished). The stock handler makes three hops and runs the view beside a task
        watching for a disconnect, to cancel an async view; every view here is sync and runs to its end in
        its thread whatever the client does, and uvicorn drops what is sent after a disconnect.

        thread_sensitive: the pooled thread lent to this request (its ThreadSensitiveContext, opened in
        __call__), so the database connection the chain uses is the one request_started/finished look after.
        """
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            set_script_prefix(get_script_prefix(scope))
            response = await sync_to_async(self._respond, thread_sensitive=True)(scope, body_file)
            try:
                await self.send_response(response, send)
            finally:
                await sync_to_async(response.close, thread_sensitive=True)()
        finally:
            body_file.close()

    def _respond(self, scope: Any, body_file: Any) -> HttpResponseBase:
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            assert error_response is not None  # Django returns one or the other
            return error_response
        response = self.get_response(request)
        response._handler_class = self.__class__  # type: ignore[attr-defined]
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size  # the server does its own chunking
        return response

    async def send_response(self, response: Any, send: Any) -> None:
        from atrium.imaging.array_response import ArrayResponse

        if isinstance(response, ArrayResponse):
            response = response.as_streaming(buffers=server_takes_buffers(send))
        await super().send_response(response, send)


def server_takes_buffers(send: Any) -> bool:
    """Whether `send` is uvicorn's, which hands a body message's buffer to its transport as it is (httptools:
    transport.write; h11: joined with the framing), so a memoryview goes out without a copy. The ASGI spec
    asks for bytes, and other servers (daphne, test communicators) get bytes."""
    owner = type(getattr(send, "__self__", None))
    return owner.__module__.startswith("uvicorn.protocols.http.")


def get_asgi_application() -> SyncChainASGIHandler:
    """As django.core.asgi.get_asgi_application, with the sync chain."""
    import django

    django.setup(set_prefix=False)
    handler = SyncChainASGIHandler()
    # Everything loaded so far (Django, the apps, the URL conf) lives as long as the process: out of the
    # collector's sight, a full collection during a request walks only what requests made. (Collected
    # first, so no garbage of the start-up is frozen with it.)
    gc.collect()
    gc.freeze()
    return handler
