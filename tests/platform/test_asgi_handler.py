"""The ASGI entry point runs Django's middleware chain synchronously, with every middleware still applied."""

from __future__ import annotations

import threading

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


@pytest.mark.django_db(transaction=True)
def test_sequential_requests_reuse_a_pooled_thread_instead_of_starting_one_each():
    from atrium.asgi import application, django_asgi_app

    def fetch() -> int:
        communicator = HttpCommunicator(application, "GET", "/health/live", headers=[(b"host", b"localhost")])
        return async_to_sync(communicator.get_response)()["status"]

    assert fetch() == 200
    started = django_asgi_app.threads.started
    assert [fetch() for _ in range(5)] == [200] * 5
    assert django_asgi_app.threads.started == started


@pytest.mark.django_db(transaction=True)
def test_idle_request_threads_keep_their_connection_until_told_to_close_it():
    from django.db import connection

    from atrium.asgi import application
    from atrium.asgi_handler import request_threads

    headers = [(b"host", b"localhost"), (b"authorization", b"Token atr_unknown")]
    communicator = HttpCommunicator(application, "GET", "/api/studies/", headers=headers)
    assert async_to_sync(communicator.get_response)()["status"] == 401  # after looking the token up

    def is_open() -> bool:
        return connection.connection is not None

    idle = list(request_threads._idle)
    assert any(executor.submit(is_open).result() for executor in idle)
    request_threads.close_connections()
    assert not any(executor.submit(is_open).result() for executor in idle)


def test_request_threads_lend_each_executor_to_one_request_and_keep_a_bounded_few():
    from atrium.asgi_handler import RequestThreads

    threads = RequestThreads(keep=1)
    first, second = threads.acquire(), threads.acquire()
    assert first is not second and threads.started == 2
    assert first.submit(threading.get_ident).result() != second.submit(threading.get_ident).result()
    threads.release(first)
    threads.release(second)  # over `keep`: shut down, not kept
    assert threads.acquire() is first
    assert threads.started == 2
    with pytest.raises(RuntimeError):
        second.submit(int)


def _scope(path: str, query_string: bytes = b"") -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query_string,
        "root_path": "",
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 5000),
        "server": ("localhost", 80),
    }


class _Signals:
    """Records the threads request_started and request_finished ran in."""

    def __init__(self) -> None:
        self.started: list[int] = []
        self.finished: list[int] = []

    def __enter__(self) -> _Signals:
        from django.core import signals

        signals.request_started.connect(self._started)
        signals.request_finished.connect(self._finished)
        return self

    def __exit__(self, *exc: object) -> None:
        from django.core import signals

        signals.request_started.disconnect(self._started)
        signals.request_finished.disconnect(self._finished)

    def _started(self, **kwargs: object) -> None:
        self.started.append(threading.get_ident())

    def _finished(self, **kwargs: object) -> None:
        self.finished.append(threading.get_ident())


async def _exchange(scope: dict, messages: list[dict]) -> list[dict]:
    from channels.testing import ApplicationCommunicator

    from atrium.asgi import application

    communicator = ApplicationCommunicator(application, scope)
    for message in messages:
        await communicator.send_input(message)
    await communicator.wait(timeout=10)
    out = []
    while not communicator.output_queue.empty():
        out.append(await communicator.receive_output())
    return out


@pytest.mark.django_db(transaction=True)
def test_each_request_signals_start_and_finish_once_in_the_thread_its_view_ran_in(monkeypatch):
    from atrium.asgi import django_asgi_app

    ran_in: list[int] = []
    chain = django_asgi_app.get_response

    def recorded(request):  # type: ignore[no-untyped-def]
        ran_in.append(threading.get_ident())
        return chain(request)

    monkeypatch.setattr(django_asgi_app, "get_response", recorded)
    with _Signals() as seen:
        sent = async_to_sync(_exchange)(_scope("/health/ready"), [{"type": "http.request", "body": b""}])
    assert sent[0]["status"] == 200 and sent[-1].get("more_body", False) is False
    assert len(seen.started) == 1 and len(seen.finished) == 1
    assert ran_in == seen.started == seen.finished  # one pooled thread for all of the request's sync work


@pytest.mark.django_db(transaction=True)
def test_a_request_django_cannot_build_gets_400_and_is_still_closed():
    with _Signals() as seen:
        sent = async_to_sync(_exchange)(
            _scope("/health/live", query_string=b"q=\xff\xfe"), [{"type": "http.request", "body": b""}]
        )
    assert sent[0]["status"] == 400
    assert len(seen.started) == 1 and len(seen.finished) == 1


@pytest.mark.django_db(transaction=True)
def test_a_client_gone_before_its_body_arrived_gets_no_response_and_no_signals():
    with _Signals() as seen:
        sent = async_to_sync(_exchange)(_scope("/health/live"), [{"type": "http.disconnect"}])
    assert sent == []
    assert seen.started == [] and seen.finished == []
