"""Uncompressed little-endian grey pixel data read straight from its bytes, as pydicom would decode it.

pydicom's `pixel_array` runs its general decoder machinery for every file (option parsing, a cache check
over the whole dataset, twice); for the commonest case, native grey frames, that costs more than the
pixels. This reads those files directly and leaves everything else (compressed syntaxes, big-endian,
colour, odd bit depths, short pixel data) to pydicom: `native_grey_pixels` returns None for them.

The result equals `ds.pixel_array` (the tests compare them): values are masked to BitsStored when the
pixels are unsigned, and sign-extended from BitsStored when they are signed. Where no masking is needed
it is a read-only view of the pixel bytes, not a copy (ingest only reads decoded frames; assembly copies
them into the series array).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from atrium.imaging.raw_values import integer

# Implicit VR Little Endian, Explicit VR Little Endian: pixel data stored as is.
NATIVE_LITTLE_ENDIAN = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"})
_DTYPES: dict[tuple[int, int], np.dtype[Any]] = {
    (8, 0): np.dtype("u1"),
    (8, 1): np.dtype("i1"),
    (16, 0): np.dtype("<u2"),
    (16, 1): np.dtype("<i2"),
}


def native_grey_pixels(ds: Dataset) -> np.ndarray | None:
    """(H, W) or (F, H, W) like `ds.pixel_array` for native grey 8/16-bit pixels, else None."""
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if str(syntax) not in NATIVE_LITTLE_ENDIAN or "PixelData" not in ds:
        return None
    if integer(ds, "SamplesPerPixel", 1) != 1:
        return None
    rows, columns = integer(ds, "Rows"), integer(ds, "Columns")
    allocated, stored = integer(ds, "BitsAllocated"), integer(ds, "BitsStored")
    representation, frames = integer(ds, "PixelRepresentation", 0), integer(ds, "NumberOfFrames", 1) or 1
    if not rows or not columns or allocated is None or stored is None or frames is None or frames < 1:
        return None
    dtype = _DTYPES.get((allocated, representation or 0))
    if dtype is None or not 0 < stored <= allocated:
        return None
    data = ds.PixelData
    if not isinstance(data, bytes):
        return None
    count = frames * rows * columns
    if len(data) < count * dtype.itemsize:
        return None  # short pixel data: pydicom names the problem
    pixels = np.frombuffer(data, dtype=dtype, count=count)
    if stored < allocated:
        if representation:
            shift = allocated - stored
            pixels = (pixels << shift) >> shift  # arithmetic shift: sign-extends from bit `stored - 1`
        else:
            pixels = pixels & dtype.type((1 << stored) - 1)
    shape = (frames, rows, columns) if frames > 1 else (rows, columns)
    return pixels.reshape(shape)
