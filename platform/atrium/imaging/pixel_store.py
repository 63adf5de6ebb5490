"""The on-disk array store: each series is decoded once into a .npy file served by memory mapping.

Keys are relative paths; the local backend writes under PIXEL_STORE_ROOT. Writes are atomic (write to a
temporary file, then rename) so a reader never sees half an array.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
from django.conf import settings

from atrium import media_mirror
from atrium.atomic_files import write_atomic


class PixelStore:
    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else Path(settings.PIXEL_STORE_ROOT)

    def new_key(self, prefix: str = "series") -> str:
        token = uuid.uuid4().hex
        return f"{prefix}/{token[:2]}/{token}.npy"

    def path(self, key: str) -> Path:
        resolved = (self.root / key).resolve()
        if self.root.resolve() not in resolved.parents:
            raise ValueError(f"pixel-store key {key!r} escapes the store")
        return resolved

    def remote_key(self, key: str) -> str:
        """The object name in media storage (ATRIUM_STORAGE=s3), beside the local copy's path."""
        return f"pixels/{key}"

    def write(self, key: str, array: np.ndarray) -> None:
        write_atomic(
            self.path(key), lambda handle: np.save(handle, np.ascontiguousarray(array), allow_pickle=False)
        )
        media_mirror.publish(self.path(key), self.remote_key(key))

    def write_bytes(self, key: str, data: bytes) -> None:
        write_atomic(self.path(key), lambda handle: handle.write(data))
        media_mirror.publish(self.path(key), self.remote_key(key))

    def open(self, key: str) -> np.ndarray:
        """A read-only memory map of the array; slicing it reads only the bytes asked for."""
        path = self.path(key)
        media_mirror.ensure_local(path, self.remote_key(key))  # a pod that has no copy yet fetches one
        return np.load(path, mmap_mode="r", allow_pickle=False)

    def exists(self, key: str) -> bool:
        return bool(key) and media_mirror.exists(self.path(key), self.remote_key(key))

    def delete(self, key: str) -> None:
        if key:
            media_mirror.remove(self.path(key), self.remote_key(key))


def get_pixel_store() -> PixelStore:
    return PixelStore()
