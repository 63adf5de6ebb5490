"""Media files that live on local disk and, when ATRIUM_STORAGE=s3, in object storage as well.

The pixel store memory-maps `.npy` files and the model registry loads weight files, so both need a local
file to read. With object storage configured, the object store is the durable copy shared by every pod, and
MEDIA_ROOT is a cache: a file is uploaded once written, and downloaded (atomically) on first read by a pod
that does not have it yet. With the filesystem default, the local file is the only copy and nothing here
does any work.

Keys are relative paths such as `pixels/series/ab/abcd....npy`; they are the object names in the bucket.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, storages

from atrium.atomic_files import write_atomic

log = logging.getLogger(__name__)

CHUNK = 8 * 1024 * 1024


def enabled() -> bool:
    return getattr(settings, "ATRIUM_STORAGE", "filesystem") == "s3"


def _storage() -> Storage:
    return storages["default"]


def publish(local: Path, key: str) -> None:
    """Upload a finished local file under `key`. Keys are unique by construction, so never overwrite."""
    if not enabled():
        return
    with local.open("rb") as handle:
        saved = _storage().save(key, File(handle, name=local.name))
    if saved != key:  # a storage that renames on collision means the key was not unique: say so loudly
        _storage().delete(saved)
        raise FileExistsError(f"object {key!r} already exists in media storage")


def ensure_local(local: Path, key: str) -> bool:
    """Make `local` exist, downloading `key` if needed. False when neither copy exists."""
    if local.exists():
        return True
    if not enabled():
        return False
    storage = _storage()
    if not storage.exists(key):
        return False
    log.info("fetching %s from media storage", key)

    def copy(handle: object) -> None:
        with storage.open(key, "rb") as remote:
            while chunk := remote.read(CHUNK):
                handle.write(chunk)  # type: ignore[attr-defined]

    write_atomic(local, copy)  # concurrent readers see no file or the whole file
    return True


def exists(local: Path, key: str) -> bool:
    return local.exists() or (enabled() and _storage().exists(key))


def remove(local: Path, key: str) -> None:
    local.unlink(missing_ok=True)
    if enabled():
        _storage().delete(key)
