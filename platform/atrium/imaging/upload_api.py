"""POST /api/studies/{slug}/uploads/: DICOM files or a .zip, streamed to disk and ingested."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt

from atrium.accounts.ratelimit import upload_rate_limited
from atrium.imaging.errors import IngestError
from atrium.imaging.selectors import study_for_upload
from atrium.imaging.services import ingest_sources
from atrium.imaging.uploads import (
    LimitedTemporaryFileUploadHandler,
    UploadTooLarge,
    check_declared_length,
    uploaded_sources,
)
from atrium.imaging.web import ApiError, error_response, require_user


@csrf_exempt  # the session's CSRF token is checked by the API's SessionAuthentication, as in DRF views
def upload(request: HttpRequest, slug: str) -> HttpResponse:
    """Multipart upload (any field names) of DICOM files and/or zips.

    201 with the ingest report when series were created, 200 when everything was a duplicate,
    400 naming the file and the problem (nothing is stored then), 403/404 by role, 413 over the size limit.
    """
    if request.method != "POST":
        return error_response(405, f"method {request.method} not allowed; POST multipart/form-data")
    limit = int(settings.ATRIUM_MAX_UPLOAD_BYTES)
    handler = LimitedTemporaryFileUploadHandler(request, limit=limit)
    try:
        check_declared_length(request, limit)
        request.upload_handlers = [handler]
        user = require_user(request)
        study, may_upload = study_for_upload(user, slug)
        if study is None:
            raise ApiError(404, f"study {slug!r} not found")
        if not may_upload:
            raise ApiError(403, "only study leads, ML engineers and admins who are members may upload")
        limited = upload_rate_limited(user)
        if limited is not None:
            return limited
        files = [upload for _, uploads in request.FILES.lists() for upload in uploads]
        if handler.exceeded:
            raise UploadTooLarge(limit)
        if not files:
            raise ApiError(400, "no files in the upload; send multipart/form-data with one or more files")
        report = ingest_sources(study=study, sources=uploaded_sources(files), all_or_nothing=True, actor=user)
    except UploadTooLarge as exc:
        return error_response(413, str(exc))
    except ApiError as exc:
        return error_response(exc.status, exc.detail, exc.errors)
    except IngestError as exc:
        return error_response(400, str(exc), {"files": [str(exc)]})
    except TooManyFilesSent:
        return error_response(400, "too many files in one upload; send them as a .zip")
    except (MultiPartParserError, RequestDataTooBig) as exc:
        if handler.exceeded:
            return error_response(413, str(UploadTooLarge(limit)))
        return error_response(400, f"malformed multipart upload ({exc})")
    if report.errors:
        body = {"detail": report.errors[0], "errors": {"files": report.errors}, "report": report.as_dict()}
        return JsonResponse(body, status=400)
    return JsonResponse(report.as_dict(), status=201 if report.series_created else 200)
