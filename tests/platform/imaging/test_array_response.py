"""ArrayResponse: the bytes of an array, the same through `.content` and in pieces, and through ASGI."""

from __future__ import annotations

import numpy as np
import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.test import Client

from atrium.imaging import array_response
from atrium.imaging.array_response import ArrayResponse
from atrium.imaging.pixel_store import get_pixel_store
from tests.factories import CaseFactory, SeriesFactory


def test_content_and_pieces_are_the_little_endian_bytes_of_the_array(monkeypatch):
    monkeypatch.setattr(array_response, "PIECE", 7)
    array = np.arange(30, dtype="<u2").reshape(3, 10)
    response = ArrayResponse(array, content_type="application/octet-stream")
    assert response.content == array.tobytes()
    pieces = list(response.pieces())
    assert [len(p) for p in pieces] == [7] * 8 + [4]  # 60 bytes in pieces of 7
    assert b"".join(pieces) == array.tobytes()
    assert b"".join(response) == array.tobytes()  # WSGI iterates the response
    assert response["Content-Length"] == "60"


def test_big_endian_and_strided_arrays_are_sent_little_endian_and_contiguous():
    big = np.arange(12, dtype=">u2").reshape(3, 4)
    assert ArrayResponse(big).content == big.astype("<u2").tobytes()
    strided = np.arange(24, dtype="<u2").reshape(4, 6)[:, ::2]
    assert ArrayResponse(strided).content == np.ascontiguousarray(strided).tobytes()


def test_setting_content_replaces_the_array():
    response = ArrayResponse(np.zeros(5, dtype=np.uint8))
    response.content = b"abc"
    assert response.content == b"abc"
    assert list(response.pieces()) == [b"abc"]
    assert response["Content-Length"] == "3"


def test_as_streaming_keeps_status_headers_and_cookies():
    response = ArrayResponse(np.ones(4, dtype=np.uint8), content_type="application/octet-stream", status=206)
    response["ETag"] = '"x"'
    response.set_cookie("seen", "1")
    streaming = response.as_streaming()
    assert streaming.status_code == 206
    assert streaming["ETag"] == '"x"'
    assert streaming["Content-Length"] == "4"
    assert streaming.cookies["seen"].value == "1"

    async def body() -> bytes:
        return b"".join([part async for part in streaming.streaming_content])

    assert async_to_sync(body)() == b"\x01" * 4


@pytest.mark.django_db(transaction=True)
def test_a_frame_range_through_asgi_arrives_whole_in_pieces(monkeypatch, people, study):
    from atrium.asgi import application

    monkeypatch.setattr(array_response, "PIECE", 1000)
    series = SeriesFactory(shape=[2, 3, 20, 30], dtype="uint16")
    CaseFactory(study=study, series=series)
    client = Client()
    client.force_login(people.annotator)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()

    async def fetch(path: str) -> tuple[dict, list[bytes]]:
        scope = {
            "type": "http",
            "method": "GET",
            "path": path.partition("?")[0],
            "query_string": path.partition("?")[2].encode(),
            "headers": [(b"host", b"localhost"), (b"cookie", cookie)],
        }
        communicator = ApplicationCommunicator(application, scope)
        await communicator.send_input({"type": "http.request", "body": b""})
        start = await communicator.receive_output(10)
        bodies = []
        while True:
            message = await communicator.receive_output(10)
            bodies.append(message.get("body", b""))  # the ASGI spec lets the last message leave it out
            if not message.get("more_body", False):
                break
        await communicator.wait(10)
        return start, bodies

    stored = np.asarray(get_pixel_store().open(series.store_key)).reshape(-1, 20, 30)
    start, bodies = async_to_sync(fetch)(f"/api/series/{series.pk}/frames/?start=1&stop=6")
    assert start["status"] == 200
    assert [len(b) for b in bodies if b] == [1000] * 6  # 6000 bytes in pieces of 1000
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    assert headers["content-length"] == str(5 * 20 * 30 * 2)
    assert headers["x-frame-shape"] == "5,20,30"
    assert "immutable" in headers["cache-control"]
    np.testing.assert_array_equal(
        np.frombuffer(b"".join(bodies), dtype="<u2").reshape(5, 20, 30), stored[1:6]
    )


def test_views_are_pieces_of_the_array_itself_not_copies(monkeypatch):
    monkeypatch.setattr(array_response, "PIECE", 7)
    array = np.arange(30, dtype="<u2").reshape(3, 10)
    response = ArrayResponse(array)
    views = list(response.views())
    assert all(isinstance(v, memoryview) for v in views)
    assert [v.nbytes for v in views] == [7] * 8 + [4]
    assert b"".join(views) == array.tobytes()
    assert all(np.shares_memory(np.frombuffer(v, dtype=np.uint8), array) for v in views)


def test_as_streaming_with_buffers_passes_memoryviews_through():
    array = np.arange(10, dtype=np.uint8)
    streaming = ArrayResponse(array, status=206).as_streaming(buffers=True)
    assert streaming.status_code == 206 and streaming["Content-Length"] == "10"

    async def parts() -> list:
        return [part async for part in streaming.streaming_content]

    got = async_to_sync(parts)()
    assert all(isinstance(p, memoryview) for p in got)  # Django's make_bytes would have copied to bytes
    assert b"".join(got) == array.tobytes()


def test_only_uvicorns_send_is_trusted_with_buffers():
    from uvicorn.protocols.http import h11_impl, httptools_impl

    from atrium.asgi_handler import server_takes_buffers

    for module in (httptools_impl, h11_impl):
        cycle = object.__new__(module.RequestResponseCycle)
        assert server_takes_buffers(cycle.send)

    async def plain_send(message: dict) -> None:
        return None

    communicator = ApplicationCommunicator(lambda *a: None, {"type": "http"})
    assert not server_takes_buffers(plain_send)
    assert not server_takes_buffers(communicator.output_queue.put)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("protocol", "loop"), [("httptools", "uvloop"), ("h11", "asyncio")])
def test_a_frame_range_through_a_real_uvicorn_goes_out_as_views_of_the_map(
    monkeypatch, people, study, protocol, loop
):
    import http.client
    import threading
    import time

    import uvicorn

    from atrium.asgi import application

    monkeypatch.setattr(array_response, "PIECE", 1000)
    sent_as_views = []
    original_views = ArrayResponse.views

    def spy(self):
        sent_as_views.append(True)
        return original_views(self)

    monkeypatch.setattr(ArrayResponse, "views", spy)
    series = SeriesFactory(shape=[2, 3, 20, 30], dtype="uint16")
    CaseFactory(study=study, series=series)
    client = Client()
    client.force_login(people.annotator)
    cookie = f"sessionid={client.cookies['sessionid'].value}"

    config = uvicorn.Config(
        application, host="127.0.0.1", port=0, http=protocol, loop=loop, lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        conn.request("GET", f"/api/series/{series.pk}/frames/?start=1&stop=6", headers={"Cookie": cookie})
        response = conn.getresponse()
        body = response.read()
        conn.close()
    finally:
        server.should_exit = True
        thread.join(20)
    assert response.status == 200, body[:200]
    assert response.getheader("Content-Length") == str(5 * 20 * 30 * 2)
    assert sent_as_views == [True]
    stored = np.asarray(get_pixel_store().open(series.store_key)).reshape(-1, 20, 30)
    np.testing.assert_array_equal(np.frombuffer(body, dtype="<u2").reshape(5, 20, 30), stored[1:6])
