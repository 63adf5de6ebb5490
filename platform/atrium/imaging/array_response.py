"""A response whose body is the bytes of a stored (memory-mapped) array, copied out piece by piece.

A whole clip is tens of MB. Copied out of the memory map in one go, in a request thread, every send pays
for a fresh allocation of that size (glibc hands it out as new pages, so the copy runs at page-fault speed,
not memcpy speed) and the server then holds two copies. Sent in pieces of PIECE bytes, the copies are
small, reused allocations made while the socket drains the previous piece.

Under ASGI (atrium.asgi_handler) the body goes out in pieces; anywhere else (the test client, WSGI,
middleware reading `.content`) it is the same bytes, materialised on demand. Where the server is known to
write any buffer it is given (uvicorn, see atrium.asgi_handler.server_takes_buffers), the pieces are
memoryviews of the map itself: no copy in user space at all, the kernel reads the pages straight from the
page cache into the socket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import numpy as np
from django.http import HttpResponse, StreamingHttpResponse

# 4 MiB: big enough that a clip is a handful of event-loop turns, small enough to come from reused heap
# memory (1 MiB and 256 KiB pieces measured no faster in bench/ingest_serve.py).
PIECE = 1 << 22


def little_endian_bytes(array: np.ndarray) -> np.ndarray:
    """A flat little-endian uint8 view of `array` (a copy only for big-endian or non-contiguous data)."""
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    return np.ascontiguousarray(array).reshape(-1).view(np.uint8)


class ArrayResponse(HttpResponse):
    """HttpResponse(array bytes) that defers the copy: `.content` materialises, `pieces()` streams."""

    def __init__(self, array: np.ndarray, **kwargs: Any) -> None:
        super().__init__(b"", **kwargs)
        self._flat: np.ndarray | None = little_endian_bytes(array)
        self["Content-Length"] = str(self._flat.size)

    @property  # type: ignore[override]
    def content(self) -> bytes:
        if self._flat is not None:
            return self._flat.tobytes()
        return HttpResponse.content.fget(self)  # type: ignore[attr-defined,no-any-return]

    @content.setter
    def content(self, value: Any) -> None:
        HttpResponse.content.fset(self, value)  # type: ignore[attr-defined]
        self._flat = None
        if "Content-Length" in self:
            self["Content-Length"] = str(len(HttpResponse.content.fget(self)))  # type: ignore[attr-defined]

    def pieces(self) -> Iterator[bytes]:
        flat = self._flat
        if flat is None:
            yield self.content
            return
        for start in range(0, flat.size, PIECE):
            yield flat[start : start + PIECE].tobytes()

    def __iter__(self) -> Iterator[bytes]:
        return self.pieces()

    def views(self) -> Iterator[memoryview]:
        """The body as memoryviews of the array, PIECE bytes each (the map stays alive while they do)."""
        flat = self._flat
        if flat is None:
            yield memoryview(self.content)
            return
        whole = flat.data
        for start in range(0, flat.size, PIECE):
            yield whole[start : start + PIECE]

    def as_streaming(self, *, buffers: bool = False) -> StreamingHttpResponse:
        """The same status, headers and cookies, with the body as an async iterator of pieces: bytes, or
        with buffers=True memoryviews of the array (for a server that writes buffers as they are)."""

        async def body() -> AsyncIterator[bytes | memoryview]:
            for piece in self.views() if buffers else self.pieces():
                yield piece

        kind = BufferStreamingResponse if buffers else StreamingHttpResponse
        streaming = kind(body(), status=self.status_code, reason=self.reason_phrase)
        streaming.headers = self.headers
        streaming.cookies = self.cookies
        return streaming


class BufferStreamingResponse(StreamingHttpResponse):
    """A streaming response whose memoryview pieces pass through as they are (Django's make_bytes would copy
    each into a new bytes object)."""

    def make_bytes(self, value: Any) -> Any:
        if isinstance(value, memoryview):
            return value
        return super().make_bytes(value)
