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

from atrium.imaging.dicom_json import header_value, served_pixel_attributes, with_served_pixels
from atrium.imaging.errors import IngestError
from atrium.imaging.frames import frames_bytes
from atrium.imaging.models import Instance
from atrium.imaging.multipart_related import (
    build_multipart,
    content_type_parameters,
    split_parts,
    temporary_directory,
)
from atrium.imaging.qido import QueryError, search_instances, search_series, search_studies
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


def _instance_metadata(instance: Instance) -> dict[str, Any]:
    series = instance.series
    height, width = series.frame_shape
    color = bool(series.color_store_key)
    pixels = served_pixel_attributes(
        rows=height,
        columns=width,
        dtype="uint8" if color else series.dtype,
        n_frames=instance.n_frames,
        color=color,
        photometric=str(header_value(instance.dicom_json, "00280004", "MONOCHROME2")),
    )
    return with_served_pixels(instance.dicom_json, pixels)


def metadata(
    request: HttpRequest, study: str, series: str | None = None, instance: str | None = None
) -> HttpResponse:
    """WADO-RS metadata of a study, a series or an instance, as DICOM JSON."""

    def work(user: Any) -> HttpResponse:
        found = instances_visible_to(user).filter(series__imaging_study__study_instance_uid=study)
        if series is not None:
            found = found.filter(series__series_instance_uid=series)
        if instance is not None:
            found = found.filter(sop_instance_uid=instance)
        rows = list(found.select_related("series").order_by("series", "first_frame"))
        if not rows:
            raise ApiError(404, "no such study, series or instance")
        return _json([_instance_metadata(row) for row in rows])

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
        parts = [
            frames_bytes(target, row.first_frame + n - 1, row.first_frame + n, color=color) for n in numbers
        ]
        body, content_type = build_multipart(
            parts, OCTET_STREAM, [{"Content-Location": f"frame {n}"} for n in numbers]
        )
        return cached_bytes(body, content_type, etag)

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
            report = ingest_sources(study=study, sources=sources)
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
