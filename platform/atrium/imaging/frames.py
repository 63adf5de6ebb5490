"""Reading frames of a series from the memory-mapped pixel store (never decoding DICOM)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from atrium.imaging.array_response import little_endian_bytes
from atrium.imaging.models import Series
from atrium.imaging.pixel_store import PixelStore, get_pixel_store


class _OpenArrays:
    """The most recently used memory maps, by (store root, key).

    An array never changes under its key (keys are fresh for every write), so a cached map is never stale;
    this saves the open, the .npy header parse and the mmap call on every frame request.
    """

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._maps: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def open(self, store: PixelStore, key: str) -> np.ndarray:
        cache_key = (str(store.root), key)
        with self._lock:
            array = self._maps.get(cache_key)
            if array is not None:
                self._maps.move_to_end(cache_key)
                return array
        array = store.open(key)
        with self._lock:
            self._maps[cache_key] = array
            while len(self._maps) > self.size:
                self._maps.popitem(last=False)
        return array

    def clear(self) -> None:
        with self._lock:
            self._maps.clear()


open_arrays = _OpenArrays()


def frame_stack(series: Series, *, color: bool = False, store: PixelStore | None = None) -> np.ndarray:
    """The series as (N, H, W) grey, or (N, H, W, 3) RGB original with color=True: a read-only memory map."""
    store = store or get_pixel_store()
    key = series.color_store_key if color else series.store_key
    array = open_arrays.open(store, key)
    height, width = series.frame_shape
    return array.reshape(-1, height, width, 3) if color else array.reshape(-1, height, width)


def frames_bytes(series: Series, start: int, stop: int, *, color: bool = False) -> bytes:
    """Raw little-endian bytes of frames [start, stop): one contiguous read of the memory map."""
    return little_endian_bytes(frame_stack(series, color=color)[start:stop]).tobytes()


def frame_array(series: Series, index: int, *, color: bool = False) -> np.ndarray:
    return np.asarray(frame_stack(series, color=color)[index])


def label_frame(series: Series, index: int, *, store: PixelStore | None = None) -> np.ndarray | int:
    """The reference label map of a frame as (H, W) uint8, or the frame's class label for per-frame labels."""
    store = store or get_pixel_store()
    labels = open_arrays.open(store, series.label_store_key)
    if labels.ndim == 1:
        return int(labels[index])
    height, width = labels.shape[-2:]
    return np.asarray(labels.reshape(-1, height, width)[index])


def series_meta(series: Series, *, show_labels: bool) -> dict[str, Any]:
    """SeriesMeta of the HTTP contract, plus what the frame API can serve for it."""
    return {
        "id": series.pk,
        "modality": series.modality,
        "layout": series.layout,
        "shape": series.shape,
        "dtype": series.dtype,
        "pixel_spacing_mm": series.pixel_spacing_mm,
        "slice_thickness_mm": series.slice_thickness_mm,
        "slice_spacing_mm": series.slice_spacing_mm,
        "frame_time_ms": series.frame_time_ms,
        "window": {"center": series.window_center, "width": series.window_width},
        "n_frames": series.n_frames,
        "manufacturer": series.manufacturer,
        "description": series.description,
        "source": series.source,
        "series_instance_uid": series.series_instance_uid,
        "has_color": bool(series.color_store_key),
        "has_reference_labels": bool(series.label_store_key) if show_labels else False,
    }
