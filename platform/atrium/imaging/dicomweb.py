"""DICOMweb under /dicomweb/: QIDO-RS search, WADO-RS metadata and frames, STOW-RS store.

Authentication: the API session (cookie; STOW then needs X-CSRFToken) or HTTP Basic.
STOW-RS chooses the reading study with the query parameter `study=<slug>` or the header `X-Atrium-Study`.
Frames are served uncompressed little endian from the pixel store: for colour series the RGB original,
otherwise the stored grey array; metadata describes exactly those pixels.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from atrium.accounts.ratelimit import upload_rate_limited
from atrium.imaging.dicom_instance import instance_frame_indices, rebuild_instance, served_metadata
from atrium.imaging.errors import IngestError
from atrium.imaging.frames import frame_array, frames_bytes
from atrium.imaging.models import Instance
from atrium.imaging.multipart_related import (
    build_multipart,
    content_type_parameters,
    split_parts,
    temporary_directory,
)
from atrium.imaging.qido import QueryError, search_instances, search_series, search_studies
from atrium.imaging.rendering import IMAGE_FORMATS, apply_window, encode_image, webp_supported
from atrium.imaging.selectors import instances_visible_to, study_for_upload
from atrium.imaging.services import ingest_sources
from atrium.imaging.sources import SourceFile
from atrium.imaging.uploads import UploadTooLarge, spool_body
from atrium.imaging.web import (
    ApiError,
    cached_bytes,
    error_response,
    make_etag,
    matches_etag,
    not_modified,
    require_user,
)

DICOM_JSON = "application/dicom+json"
DICOM = "application/dicom"
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
OCTET_STREAM = "application/octet-stream"


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/dicomweb").rstrip("/")


def _json(data: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(json.dumps(data), content_type=DICOM_JSON, status=status)


def _handle(request: HttpRequest, method: str, work: Any) -> HttpResponse:
    if request.method != method:
        return error_response(405, f"method {request.method} not allowed here")
    try:
        return work(require_user(request, basic=True))
    except ApiError as exc:
        response = error_response(exc.status, exc.detail, exc.errors)
        if exc.status == 401:
            response["WWW-Authenticate"] = 'Basic realm="atrium-dicomweb"'
        return response
    except QueryError as exc:
        return error_response(400, str(exc))


@csrf_exempt  # POST (STOW-RS) checks the session's CSRF token in authenticate(), or uses HTTP Basic
def studies(request: HttpRequest) -> HttpResponse:
    """GET: QIDO-RS search for studies. POST: STOW-RS."""
    if request.method == "POST":
        return store(request)
    return _handle(request, "GET", lambda user: _json(search_studies(user, request.GET, _base_url(request))))


def series(request: HttpRequest, study: str | None = None) -> HttpResponse:
    return _handle(
        request, "GET", lambda user: _json(search_series(user, request.GET, _base_url(request), study))
    )


def instances(request: HttpRequest, study: str | None = None, series: str | None = None) -> HttpResponse:
    return _handle(
        request,
        "GET",
        lambda user: _json(search_instances(user, request.GET, _base_url(request), study, series)),
    )


def _visible_rows(user: Any, study: str, series: str | None, instance: str | None) -> list[Instance]:
    """Instances of a study, series or instance the user may see, in series then frame order; 404 if none."""
    found = instances_visible_to(user).filter(series__imaging_study__study_instance_uid=study)
    if series is not None:
        found = found.filter(series__series_instance_uid=series)
    if instance is not None:
        found = found.filter(sop_instance_uid=instance)
    rows = list(found.select_related("series").order_by("series", "first_frame"))
    if not rows:
        if instance is not None:
            raise ApiError(404, f"no instance {instance} in series {series} of study {study}")
        if series is not None:
            raise ApiError(404, f"no series {series} with instances in study {study}")
        raise ApiError(404, f"no study {study} with instances")
    return rows


def metadata(
    request: HttpRequest, study: str, series: str | None = None, instance: str | None = None
) -> HttpResponse:
    """WADO-RS metadata of a study, a series or an instance, as DICOM JSON."""

    def work(user: Any) -> HttpResponse:
        return _json([served_metadata(row) for row in _visible_rows(user, study, series, instance)])

    return _handle(request, "GET", work)


def _frame_numbers(text: str, n_frames: int) -> list[int]:
    try:
        numbers = [int(part) for part in text.split(",") if part]
    except ValueError:
        raise ApiError(400, f"frame list must be comma-separated integers, got {text!r}") from None
    if not numbers:
        raise ApiError(400, "empty frame list")
    bad = [n for n in numbers if not 1 <= n <= n_frames]
    if bad:
        raise ApiError(404, f"frame(s) {bad} out of range: the instance has frames 1..{n_frames}")
    return numbers


def _accepts_octet_stream(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    if not accept or "*/*" in accept:
        return True
    for item in accept.split(","):
        media_type, parameters = content_type_parameters(item)
        if media_type in ("multipart/related", "multipart/*") and parameters.get("type", OCTET_STREAM) in (
            OCTET_STREAM,
            "*/*",
        ):
            return True
        if media_type == OCTET_STREAM:
            return True
    return False


def frames(request: HttpRequest, study: str, series: str, instance: str, frame_list: str) -> HttpResponse:
    """WADO-RS frames: multipart/related; type="application/octet-stream", uncompressed little endian."""

    def work(user: Any) -> HttpResponse:
        row = (
            instances_visible_to(user)
            .select_related("series")
            .filter(
                series__imaging_study__study_instance_uid=study,
                series__series_instance_uid=series,
                sop_instance_uid=instance,
            )
            .first()
        )
        if row is None:
            raise ApiError(404, "no such instance")
        if not _accepts_octet_stream(request):
            raise ApiError(
                406, 'frames are available as multipart/related; type="application/octet-stream" only'
            )
        numbers = _frame_numbers(frame_list, row.n_frames)
        target = row.series
        color = bool(target.color_store_key)
        etag = make_etag(target.store_key, target.color_store_key, "wado", row.first_frame, frame_list)
        if matches_etag(request, etag):
            return not_modified(etag)
        indices = instance_frame_indices(row)
        parts = [frames_bytes(target, indices[n - 1], indices[n - 1] + 1, color=color) for n in numbers]
        body, content_type = build_multipart(
            parts,
            OCTET_STREAM,
            [{"Content-Location": f"frame {n}"} for n in numbers],
            boundary=_boundary(etag),
        )
        return cached_bytes(body, content_type, etag)

    return _handle(request, "GET", work)


def _boundary(etag: str) -> str:
    return "atrium-" + etag.strip('"')


def _dicom_response_kind(request: HttpRequest, *, single_allowed: bool) -> str | None:
    """ "multipart", "single" (a bare application/dicom body, instances only) or None when not acceptable.

    Instances are rebuilt as uncompressed Explicit VR Little Endian, so only that transfer syntax (or *)
    is acceptable.
    """
    accept = request.headers.get("Accept", "").strip()
    if not accept:
        return "multipart"
    for item in accept.split(","):
        media_type, parameters = content_type_parameters(item)
        if parameters.get("transfer-syntax", "*") not in ("*", EXPLICIT_VR_LITTLE_ENDIAN):
            continue
        if media_type == "*/*":
            return "multipart"
        if media_type in ("multipart/related", "multipart/*") and parameters.get("type", DICOM) in (
            DICOM,
            "application/*",
            "*/*",
        ):
            return "multipart"
        if media_type == DICOM and single_allowed:
            return "single"
    return None


def retrieve(
    request: HttpRequest, study: str, series: str | None = None, instance: str | None = None
) -> HttpResponse:
    """WADO-RS retrieve of a study, series or instance: multipart/related; type="application/dicom".

    Each part is the de-identified instance rebuilt from its stored header and pixel-store frames.
    """

    def work(user: Any) -> HttpResponse:
        rows = _visible_rows(user, study, series, instance)
        kind = _dicom_response_kind(request, single_allowed=instance is not None)
        if kind is None:
            raise ApiError(
                406,
                'instances are available as multipart/related; type="application/dicom" in transfer syntax '
                f"{EXPLICIT_VR_LITTLE_ENDIAN} (Explicit VR Little Endian) only"
                + ("" if instance is not None else "; bare application/dicom is for single instances"),
            )
        etag = make_etag(
            "retrieve",
            kind,
            *[(row.series.store_key, row.series.color_store_key, row.sop_instance_uid) for row in rows],
        )
        if matches_etag(request, etag):
            return not_modified(etag)
        if kind == "single":
            return cached_bytes(rebuild_instance(rows[0]), DICOM, etag)
        base = _base_url(request)
        body, content_type = build_multipart(
            [rebuild_instance(row) for row in rows],
            DICOM,
            [
                {
                    "Content-Location": f"{base}/studies/{study}/series/{row.series.series_instance_uid}"
                    f"/instances/{row.sop_instance_uid}"
                }
                for row in rows
            ],
            boundary=_boundary(etag),
        )
        return cached_bytes(body, content_type, etag)

    return _handle(request, "GET", work)


def _rendered_format(request: HttpRequest) -> str:
    accept = request.headers.get("Accept", "").strip()
    if not accept:
        return "png"
    for item in accept.split(","):
        media_type, _ = content_type_parameters(item)
        if media_type in ("image/png", "image/*", "*/*"):
            return "png"
        if media_type == "image/webp" and webp_supported():
            return "webp"
    raise ApiError(406, "rendered frames are available as image/png (or image/webp where supported)")


def _window(request: HttpRequest, center: float | None, width: float | None) -> tuple[float, float]:
    raw = request.GET.get("window")
    if raw:
        values = raw.split(",")
        try:
            center, width = float(values[0]), float(values[1])
        except (ValueError, IndexError):
            raise ApiError(400, f"window must be center,width[,function], got {raw!r}") from None
        if len(values) > 2 and values[2].strip().upper() not in ("", "LINEAR"):
            raise ApiError(400, f"only the LINEAR window function is supported, got {values[2]!r}")
    if center is None or width is None or width <= 0:
        raise ApiError(400, "the window width must be a positive number")
    return center, width


def rendered(
    request: HttpRequest, study: str, series: str, instance: str, frame_list: str | None = None
) -> HttpResponse:
    """WADO-RS rendered: one frame (the first, or the one named) as PNG with the series' or a given window."""

    def work(user: Any) -> HttpResponse:
        row = _visible_rows(user, study, series, instance)[0]
        numbers = [1] if frame_list is None else _frame_numbers(frame_list, row.n_frames)
        if len(numbers) != 1:
            raise ApiError(400, "a rendered request names one frame; multi-frame rendering is not offered")
        fmt = _rendered_format(request)
        target = row.series
        color = bool(target.color_store_key)
        center, width = (0.0, 1.0) if color else _window(request, target.window_center, target.window_width)
        index = instance_frame_indices(row)[numbers[0] - 1]
        etag = make_etag(target.store_key, target.color_store_key, "rendered", index, fmt, center, width)
        if matches_etag(request, etag):
            return not_modified(etag)
        pixels = frame_array(target, index, color=color)
        image = pixels if color else apply_window(pixels, center, width)
        return cached_bytes(encode_image(image, fmt), IMAGE_FORMATS[fmt], etag)

    return _handle(request, "GET", work)


def _stow_response(report: Any, stored: list[Instance], failures: list[str], base_url: str) -> dict[str, Any]:
    referenced = [
        {
            "00081150": {"vr": "UI", "Value": [row.sop_class_uid]},
            "00081155": {"vr": "UI", "Value": [row.sop_instance_uid]},
            "00081190": {
                "vr": "UR",
                "Value": [
                    f"{base_url}/studies/{row.series.imaging_study.study_instance_uid}/series/"
                    f"{row.series.series_instance_uid}/instances/{row.sop_instance_uid}"
                ],
            },
        }
        for row in stored
    ]
    body: dict[str, Any] = {}
    if referenced:
        body["00081199"] = {"vr": "SQ", "Value": referenced}
    if failures:
        # 0xC000: cannot understand; the reason text is in the Warning header and the Atrium report.
        body["00081198"] = {
            "vr": "SQ",
            "Value": [{"00081197": {"vr": "US", "Value": [0xC000]}} for _ in failures],
        }
    return body


def store(request: HttpRequest) -> HttpResponse:
    """STOW-RS: multipart/related; type="application/dicom" into the study named by ?study= or X-Atrium-Study."""

    def work(user: Any) -> HttpResponse:
        slug = request.GET.get("study") or request.headers.get("X-Atrium-Study", "")
        if not slug:
            raise ApiError(400, "name the reading study with ?study=<slug> or the X-Atrium-Study header")
        study, may_upload = study_for_upload(user, slug)
        if study is None:
            raise ApiError(404, f"study {slug!r} not found")
        if not may_upload:
            raise ApiError(
                403, "only study leads, ML engineers and admins who are members may store instances"
            )
        limited = upload_rate_limited(user)
        if limited is not None:
            return limited
        media_type, parameters = content_type_parameters(request.headers.get("Content-Type", ""))
        if media_type != "multipart/related" or "boundary" not in parameters:
            raise ApiError(415, 'send multipart/related; type="application/dicom" with a boundary')
        if parameters.get("type", "application/dicom") != "application/dicom":
            raise ApiError(415, f"only application/dicom parts are accepted, not {parameters.get('type')!r}")
        try:
            spool = spool_body(request, int(settings.ATRIUM_MAX_UPLOAD_BYTES))
        except UploadTooLarge as exc:
            raise ApiError(413, str(exc)) from None
        with spool, temporary_directory() as directory:
            try:
                parts = list(split_parts(spool, parameters["boundary"], Path(directory)))
            except IngestError as exc:
                raise ApiError(400, str(exc)) from None
            if not parts:
                raise ApiError(400, "the request holds no parts")
            sources = [SourceFile(name=f"part {i + 1}", path=path) for i, (_, path) in enumerate(parts)]
            report = ingest_sources(study=study, sources=sources, actor=user)
        stored = list(
            Instance.objects.filter(series__pk__in=report.series_created).select_related(
                "series__imaging_study"
            )
        )
        if report.errors and not stored and not report.duplicates:
            raise ApiError(400, report.errors[0], {"files": report.errors})
        response = _json(
            _stow_response(report, stored, report.errors, _base_url(request)),
            status=202 if report.errors else 200,
        )
        if report.errors:
            response["Warning"] = "299 atrium " + json.dumps("; ".join(report.errors)[:500])
        return response

    return _handle(request, "POST", work)
