"""Walk ingest sources: files, folders and zip archives, refusing traversal and zip bombs."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from atrium.imaging.errors import IngestError

MAX_ZIP_MEMBER_BYTES = 2 * 1024**3
MAX_ZIP_TOTAL_BYTES = 20 * 1024**3
MAX_COMPRESSION_RATIO = 200
SKIPPED_NAMES = {"DICOMDIR", ".DS_Store", "manifest.json", "README", "LICENSE"}
SKIPPED_SUFFIXES = {".npy", ".json", ".txt", ".md", ".csv", ".nii", ".gz", ".png", ".jpg"}


@dataclass
class SourceFile:
    name: str
    path: Path | None = None
    data: bytes | None = None

    def open(self) -> BinaryIO | str:
        if self.path is not None:
            return str(self.path)
        return io.BytesIO(self.data or b"")


def _skipped(name: str) -> bool:
    base = PurePosixPath(name).name
    return (
        base in SKIPPED_NAMES
        or base.startswith(".")
        or PurePosixPath(base).suffix.lower() in SKIPPED_SUFFIXES
    )


def check_zip(archive: zipfile.ZipFile, label: str) -> list[zipfile.ZipInfo]:
    """The regular members of a zip, after refusing traversal, absolute paths and bombs."""
    members = []
    total = 0
    for info in archive.infolist():
        if info.is_dir():
            continue
        name = PurePosixPath(info.filename)
        if (
            name.is_absolute()
            or ".." in name.parts
            or info.filename.startswith(("/", "\\"))
            or ":" in name.parts[0]
        ):
            raise IngestError(label, f"zip member {info.filename!r} has an unsafe path (path traversal)")
        if info.file_size > MAX_ZIP_MEMBER_BYTES:
            raise IngestError(
                label, f"zip member {info.filename!r} expands to {info.file_size} bytes, over the limit"
            )
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 1024 * 1024 and ratio > MAX_COMPRESSION_RATIO:
            raise IngestError(
                label, f"zip member {info.filename!r} has a compression ratio of {ratio:.0f}:1 (zip bomb)"
            )
        total += info.file_size
        if total > MAX_ZIP_TOTAL_BYTES:
            raise IngestError(label, "zip expands beyond the total size limit (zip bomb)")
        members.append(info)
    return members


def iter_zip(path_or_file: Path | BinaryIO, label: str) -> Iterator[SourceFile]:
    try:
        archive = zipfile.ZipFile(path_or_file)
    except zipfile.BadZipFile:
        raise IngestError(label, "is not a valid zip archive") from None
    with archive:
        for info in check_zip(archive, label):
            if _skipped(info.filename):
                continue
            with archive.open(info) as member:
                data = member.read(info.file_size + 1)  # a member that lies about its size stops here
            if len(data) != info.file_size:
                raise IngestError(label, f"zip member {info.filename!r} does not match its declared size")
            yield SourceFile(name=f"{label}/{info.filename}", data=data)


def iter_sources(root: Path) -> Iterator[SourceFile]:
    """Every candidate DICOM file under `root` (a file, a folder, or a zip), in a stable order."""
    if not root.exists():
        raise IngestError(str(root), "does not exist")
    if root.is_file():
        if zipfile.is_zipfile(root):
            yield from iter_zip(root, str(root))
        else:
            yield SourceFile(name=str(root), path=root)
        return
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if _skipped(path.name):
            continue
        if path.suffix.lower() == ".zip":
            yield from iter_zip(path, str(path))
        else:
            yield SourceFile(name=str(path), path=path)


def count_sources(root: Path) -> int:
    if root.is_file():
        return 1
    return sum(1 for p in root.rglob("*") if p.is_file() and not _skipped(p.name))
