"""REST: the study's agreement report (JSON or CSV), recompute, and exports of the reads as zip files."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound, PermissionDenied
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from atrium.agreement.presentation import Filters, csv_text, filter_report
from atrium.agreement.selectors import annotation_changes_since, latest_report_job, report_access, report_for
from atrium.agreement.services import request_recompute
from atrium.studies.models import Study
from atrium.studies.selectors import studies_visible_to


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        return data if isinstance(data, bytes) else str(data).encode()


class ZipRenderer(BaseRenderer):
    media_type = "application/zip"
    format = "zip"
    charset = None

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        return data if isinstance(data, bytes) else str(data).encode()


def study_for(request: Request, slug: str, need: str = "read") -> Study:
    """The study if the caller may read (or recompute) its report: 404 when not visible, 403 otherwise."""
    study = studies_visible_to(request.user).filter(slug=slug).first()
    if study is None:
        raise NotFound(f"study {slug!r} does not exist or is not yours")
    access = report_access(request.user, study)
    if access is None or (need == "recompute" and access != "recompute"):
        raise PermissionDenied(
            "only study leads and admins may recompute reports"
            if need == "recompute"
            else "agreement reports are for study leads, ML engineers and admins"
        )
    return study


def job_payload(job: Any) -> dict[str, Any] | None:
    if job is None:
        return None
    return {
        "id": job.pk,
        "state": job.state,
        "progress": job.progress,
        "message": job.message,
        "websocket": f"/ws/jobs/{job.pk}/",
    }


def report_payload(study: Study, report: Any, filters: Filters) -> dict[str, Any]:
    changes = annotation_changes_since(study, report.computed_at)
    return {
        "study": study.slug,
        "computed_at": report.computed_at.isoformat(),
        "stale": bool(report.stale or changes),
        "changes_since": changes,
        "filters": filters.as_dict(),
        "job": job_payload(latest_report_job(study)),
        "report": filter_report(report.data, filters),
    }


class AgreementReportView(APIView):
    renderer_classes = [JSONRenderer, CSVRenderer]

    @extend_schema(responses={200: dict, 202: dict})
    def get(self, request: Request, slug: str) -> Response | HttpResponse:
        study = study_for(request, slug)
        report = report_for(study)
        if report is None or report.computed_at is None:
            job = request_recompute(study=study, requested_by=request.user)
            return Response(
                {"detail": "the report is being computed", "job": job_payload(job)},
                status=status.HTTP_202_ACCEPTED,
            )
        filters = Filters.from_query(request.query_params)
        if request.query_params.get("format") == "csv":
            response = HttpResponse(csv_text(filter_report(report.data, filters)), content_type="text/csv")
            response["Content-Disposition"] = f'attachment; filename="agreement-{study.slug}.csv"'
            return response
        return Response(report_payload(study, report, filters))


class AgreementRecomputeView(APIView):
    @extend_schema(request=None, responses={202: dict})
    def post(self, request: Request, slug: str) -> Response:
        study = study_for(request, slug, need="recompute")
        job = request_recompute(study=study, requested_by=request.user)
        return Response({"job": job_payload(job)}, status=status.HTTP_202_ACCEPTED)


class ExportUnavailable(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "nothing_to_export"


class ReadsExportView(APIView):
    """GET /api/studies/<slug>/exports/<kind>/ with kind contours | nifti | dicomseg | planes | nnunet
    (?reader=); 400 when a DICOM SEG export has nothing to export."""

    # JSON first so that errors read as JSON; a zip goes out as a plain HttpResponse
    renderer_classes = [JSONRenderer, ZipRenderer]

    @extend_schema(responses={200: bytes})
    def get(self, request: Request, slug: str, kind: str) -> HttpResponse:
        from atrium.agreement.exports import KINDS, export

        study = study_for(request, slug)
        if kind not in KINDS:
            raise NotFound(f"unknown export {kind!r}; expected one of {', '.join(KINDS)}")
        from atrium.agreement.dicom_seg import SegExportError

        try:
            data = export(study, kind, reader=str(request.query_params.get("reader", "")))
        except SegExportError as exc:
            raise ExportUnavailable(str(exc)) from exc
        response = HttpResponse(data, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{study.slug}-{kind}.zip"'
        return response
