"""The frame API: series metadata, single frames and frame ranges as raw bytes or rendered images.

Plain Django views (no DRF rendering) so a frame costs a session lookup, one query and one mmap read.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from atrium.imaging.array_response import ArrayResponse, little_endian_bytes
from atrium.imaging.frames import frame_array, frame_stack, frames_bytes, label_frame, series_meta
from atrium.imaging.models import Series
from atrium.imaging.rendering import IMAGE_FORMATS, apply_window, encode_image, webp_supported
from atrium.imaging.selectors import can_see_reference_labels, visible_series
from atrium.imaging.web import (
    IMMUTABLE_CACHE,
    ApiError,
    cached_bytes,
    error_response,
    make_etag,
    matches_etag,
    not_modified,
    require_user,
)


def _series(request: HttpRequest, series_id: int) -> tuple[Any, Series]:
    user = require_user(request)
    series = visible_series(user, series_id)
    if series is None:
        raise ApiError(404, f"series {series_id} not found")
    return user, series


def _float_param(request: HttpRequest, name: str, default: float | None) -> float | None:
    raw = request.GET.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be a number, got {raw!r}") from None


def _int_param(request: HttpRequest, name: str, default: int) -> int:
    raw = request.GET.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer, got {raw!r}") from None


def _color_param(request: HttpRequest, series: Series) -> bool:
    variant = request.GET.get("variant", "grey")
    if variant not in ("grey", "color"):
        raise ApiError(400, f"variant must be grey or color, got {variant!r}")
    if variant == "color" and not series.color_store_key:
        raise ApiError(404, f"series {series.pk} has no colour original")
    return variant == "color"


def _shape_header(*extents: int) -> str:
    return ",".join(str(int(e)) for e in extents)


@require_GET
def series_detail(request: HttpRequest, series_id: int) -> HttpResponse:
    """GET /api/series/{id}/ -> SeriesMeta."""
    try:
        user, series = _series(request, series_id)
        show_labels = bool(series.label_store_key) and can_see_reference_labels(user, series)
    except ApiError as exc:
        return error_response(exc.status, exc.detail)
    return JsonResponse(series_meta(series, show_labels=show_labels))


@require_GET
def frame(request: HttpRequest, series_id: int, index: int) -> HttpResponse:
    """GET /api/series/{id}/frames/{i}/[?format=png|webp&wc=&ww=&variant=grey|color]."""
    try:
        _, series = _series(request, series_id)
        fmt = request.GET.get("format", "raw")
        if fmt != "raw" and fmt not in IMAGE_FORMATS:
            raise ApiError(400, f"format must be raw, png or webp, got {fmt!r}")
        if fmt == "webp" and not webp_supported():
            raise ApiError(
                406, "WebP is not available on this server (Pillow lacks WebP support); use format=png"
            )
        color = _color_param(request, series)
        center = _float_param(request, "wc", series.window_center)
        width = _float_param(request, "ww", series.window_width)
        if index >= series.n_frames:
            raise ApiError(
                404, f"series {series_id} has {series.n_frames} frames; frame {index} does not exist"
            )
        if fmt != "raw" and not color and (center is None or width is None or width <= 0):
            raise ApiError(400, "ww must be a positive number")
        etag = make_etag(series.store_key, series.color_store_key, index, fmt, color, center, width)
        if matches_etag(request, etag):
            return not_modified(etag)
        height, width_px = series.frame_shape
        if fmt == "raw":
            content = frames_bytes(series, index, index + 1, color=color)
            shape = _shape_header(height, width_px, 3) if color else _shape_header(height, width_px)
            return cached_bytes(
                content,
                "application/octet-stream",
                etag,
                {"X-Frame-Shape": shape, "X-Frame-Dtype": "uint8" if color else series.dtype},
            )
        pixels = frame_array(series, index, color=color)
        rendered = pixels if color else apply_window(pixels, center, width)  # type: ignore[arg-type]
        return cached_bytes(
            encode_image(rendered, fmt), IMAGE_FORMATS[fmt], etag, {"X-Frame-Shape": shape_of(rendered)}
        )
    except ApiError as exc:
        return error_response(exc.status, exc.detail)


def shape_of(array: object) -> str:
    return _shape_header(*getattr(array, "shape", ()))


@require_GET
def frame_range(request: HttpRequest, series_id: int) -> HttpResponse:
    """GET /api/series/{id}/frames/?start=a&stop=b[&variant=color]: frames [a, b) concatenated."""
    try:
        _, series = _series(request, series_id)
        color = _color_param(request, series)
        total = series.n_frames
        start = _int_param(request, "start", 0)
        stop = min(_int_param(request, "stop", total), total)
        if start < 0 or start >= stop:
            raise ApiError(400, f"need 0 <= start < stop <= {total}, got start={start} stop={stop}")
        etag = make_etag(series.store_key, series.color_store_key, "range", start, stop, color)
        if matches_etag(request, etag):
            return not_modified(etag)
        height, width = series.frame_shape
        extents = (stop - start, height, width, 3) if color else (stop - start, height, width)
        headers = {
            "X-Frame-Shape": _shape_header(*extents),
            "X-Frame-Dtype": "uint8" if color else series.dtype,
            "Accept-Ranges": "bytes",
        }
        itemsize = 1 if color else np.dtype(series.dtype).itemsize
        total_bytes = math.prod(extents) * itemsize
        try:
            wanted = byte_range(request, etag, total_bytes)
        except ApiError as exc:
            refused = error_response(exc.status, exc.detail)
            refused["Content-Range"] = f"bytes */{total_bytes}"
            return refused
        frames = frame_stack(series, color=color)[start:stop]
        if wanted is None:
            return cached_array(frames, etag, headers)
        first, last = wanted
        # Only the pages holding the asked-for bytes are read from the memory map.
        response = cached_array(little_endian_bytes(frames)[first : last + 1], etag, headers)
        response.status_code = 206
        response["Content-Range"] = f"bytes {first}-{last}/{total_bytes}"
        return response
    except ApiError as exc:
        return error_response(exc.status, exc.detail)


OCTET_STREAM = "application/octet-stream"


def cached_array(array: np.ndarray, etag: str, headers: dict[str, str]) -> ArrayResponse:
    """cached_bytes for the raw bytes of an array, copied out of the memory map as they are sent."""
    response = ArrayResponse(array, content_type=OCTET_STREAM)
    response["ETag"] = etag
    response["Cache-Control"] = IMMUTABLE_CACHE
    for name, value in headers.items():
        response[name] = value
    return response


def byte_range(request: HttpRequest, etag: str, total: int) -> tuple[int, int] | None:
    """(first, last) byte of a single-range `Range: bytes=...` request, or None to send everything.

    Several ranges, an If-Range naming another version, or a malformed header mean a whole answer (as RFC
    9110 allows); a range that starts past the end is a 416.
    """
    header = request.headers.get("Range", "").strip()
    if not header.startswith("bytes=") or "," in header:
        return None
    if_range = request.headers.get("If-Range")
    if if_range is not None and if_range.strip() != etag:
        return None
    first_text, sep, last_text = header.removeprefix("bytes=").strip().partition("-")
    if not sep or not (first_text.isdigit() or last_text.isdigit()):
        return None
    if not first_text:  # a suffix: the last N bytes
        length = int(last_text)
        if length == 0:
            raise ApiError(416, f"range {header!r} asks for no bytes; the body has {total}")
        return max(total - length, 0), total - 1
    first = int(first_text)
    last = min(int(last_text), total - 1) if last_text.isdigit() else total - 1
    if first >= total or first > last:
        raise ApiError(416, f"range {header!r} is outside the {total} bytes of these frames")
    return first, last


@require_GET
def reference_labels(request: HttpRequest, series_id: int, index: int) -> HttpResponse:
    """GET /api/series/{id}/labels/{i}/: the reference label map of frame i (ML engineers and leads only)."""
    try:
        user, series = _series(request, series_id)
        if not can_see_reference_labels(user, series):
            raise ApiError(403, "only ML engineers, study leads and admins may see reference labels")
        if not series.label_store_key:
            raise ApiError(404, f"series {series_id} has no reference labels")
        if index >= series.n_frames:
            raise ApiError(
                404, f"series {series_id} has {series.n_frames} frames; frame {index} does not exist"
            )
        etag = make_etag(series.label_store_key, "label", index)
        if matches_etag(request, etag):
            return not_modified(etag)
        label = label_frame(series, index)
        if isinstance(label, int):
            response = JsonResponse({"frame": index, "label": label})
            response["ETag"] = etag
            return response
        return cached_bytes(
            label.astype("uint8").tobytes(),
            "application/octet-stream",
            etag,
            {"X-Frame-Shape": _shape_header(*label.shape), "X-Frame-Dtype": "uint8"},
        )
    except ApiError as exc:
        return error_response(exc.status, exc.detail)
