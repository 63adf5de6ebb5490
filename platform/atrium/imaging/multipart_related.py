"""multipart/related bodies (DICOMweb): split a spooled request into part files, build a response."""

from __future__ import annotations

import mmap
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from atrium.imaging.errors import IngestError


def content_type_parameters(content_type: str) -> tuple[str, dict[str, str]]:
    """("multipart/related", {"type": ..., "boundary": ...}) from a Content-Type value."""
    media_type, *items = [item.strip() for item in content_type.split(";")]
    parameters = {}
    for item in items:
        name, _, value = item.partition("=")
        parameters[name.strip().lower()] = value.strip().strip('"')
    return media_type.lower(), parameters


def _part_headers(block: bytes) -> dict[str, str]:
    headers = {}
    for line in block.decode("latin-1").split("\r\n"):
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers


def split_parts(spool: IO[bytes], boundary: str, directory: Path) -> Iterator[tuple[dict[str, str], Path]]:
    """Write each part of a spooled multipart body to its own file under `directory`; yield (headers, path).

    Works on a memory map of the spooled body, so a large STOW request is never held in memory.
    """
    spool.seek(0, 2)
    if spool.tell() == 0:
        return
    marker = b"--" + boundary.encode("latin-1")
    delimiter = b"\r\n" + marker
    with mmap.mmap(spool.fileno(), 0, access=mmap.ACCESS_READ) as body:
        position = body.find(marker)
        if position < 0:
            raise IngestError("request body", f"has no multipart boundary {boundary!r}")
        position += len(marker)
        index = 0
        while body[position : position + 2] != b"--":
            if body[position : position + 2] == b"\r\n":
                position += 2
            header_end = body.find(b"\r\n\r\n", position)
            if header_end < 0:
                raise IngestError(
                    "request body", f"part {index + 1} has no header terminator (truncated body?)"
                )
            headers = _part_headers(body[position:header_end])
            start = header_end + 4
            end = body.find(delimiter, start)
            if end < 0:
                raise IngestError(
                    "request body", f"part {index + 1} has no closing boundary (truncated body?)"
                )
            path = directory / f"part-{index:05d}.dcm"
            with open(path, "wb") as handle:
                handle.write(body[start:end])
            yield headers, path
            index += 1
            position = end + len(delimiter)


def build_multipart(
    parts: Sequence[bytes],
    part_type: str,
    extra_headers: Sequence[dict[str, str]] = (),
    boundary: str | None = None,
) -> tuple[bytes, str]:
    """(body, Content-Type) of a multipart/related message whose parts all have type `part_type`.

    Give a `boundary` derived from the ETag so that equal ETags mean byte-equal bodies.
    """
    boundary = boundary or uuid.uuid4().hex
    chunks: list[bytes] = []
    for index, part in enumerate(parts):
        header = f"--{boundary}\r\nContent-Type: {part_type}\r\n"
        for name, value in (extra_headers[index] if index < len(extra_headers) else {}).items():
            header += f"{name}: {value}\r\n"
        chunks.extend([header.encode("latin-1"), b"\r\n", part, b"\r\n"])
    chunks.append(f"--{boundary}--\r\n".encode("latin-1"))
    return b"".join(chunks), f'multipart/related; type="{part_type}"; boundary={boundary}'


def temporary_directory() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="atrium-stow-")
