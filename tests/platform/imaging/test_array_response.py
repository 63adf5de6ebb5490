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
