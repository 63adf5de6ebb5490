"""Streaming request bodies to disk under a size limit, and turning uploaded files into ingest sources."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.http import HttpRequest

from atrium.imaging.sources import SourceFile, iter_zip

CHUNK_BYTES = 1024 * 1024


class UploadTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the upload is larger than the limit of {limit} bytes ({limit / 1024**2:.0f} MiB)")
        self.limit = limit


class LimitedTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    """Every file goes to a temporary file on disk; the upload stops once it passes `limit` bytes."""

    def __init__(self, request: HttpRequest | None = None, *, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.received = 0
        self.exceeded = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > self.limit:
            self.exceeded = True
            raise StopUpload(connection_reset=True)
        return super().receive_data_chunk(raw_data, start)


def check_declared_length(request: HttpRequest, limit: int) -> None:
    """Refuse before reading anything when Content-Length already says the body is too large."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise UploadTooLarge(limit)


def spool_body(request: HttpRequest, limit: int) -> Any:
    """Copy the request body to a temporary file chunk by chunk; raise UploadTooLarge past `limit`."""
    check_declared_length(request, limit)
    spool = tempfile.TemporaryFile()
    total = 0
    while chunk := request.read(CHUNK_BYTES):
        total += len(chunk)
        if total > limit:
            spool.close()
            raise UploadTooLarge(limit)
        spool.write(chunk)
    spool.seek(0)
    return spool


def _is_zip(upload: UploadedFile) -> bool:
    name = (upload.name or "").lower()
    return name.endswith(".zip") or upload.content_type in ("application/zip", "application/x-zip-compressed")


def uploaded_sources(files: Iterable[UploadedFile]) -> Iterator[SourceFile]:
    """Ingest sources for uploaded files (already on disk): zips are opened member by member."""
    for upload in files:
        path = Path(upload.temporary_file_path())  # type: ignore[attr-defined]
        name = Path(upload.name or path.name).name
        if _is_zip(upload):
            yield from iter_zip(path, name)
        else:
            yield SourceFile(name=name, path=path)
