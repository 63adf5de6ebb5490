"""Jobs: list, create (ML engineers), cancel."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from atrium.learning.selectors import jobs_visible_to
from atrium.learning.serializers import JobCreateSerializer, JobSerializer
from atrium.learning.services import cancel_job, enqueue_job
from atrium.studies.selectors import studies_visible_to


def _user(request: Request) -> Any:
    return request.user


class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = JobSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return jobs_visible_to(self.request.user).select_related("study")

    @extend_schema(request=JobCreateSerializer, responses={201: JobSerializer})
    def create(self, request: Request) -> Response:
        if not _user(request).can_manage_models():
            raise PermissionDenied("only ML engineers and admins may start jobs")
        form = JobCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        study = studies_visible_to(request.user).filter(slug=form.validated_data["study"]).first()
        if study is None:
            raise NotFound(f"study {form.validated_data['study']!r} does not exist or is not yours")
        job = enqueue_job(
            kind=form.validated_data["kind"],
            params=form.validated_data["params"],
            study=study,
            created_by=request.user,
        )
        return Response(JobSerializer(job).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=JobSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        job = self.get_object()
        if not (_user(request).can_manage_models() or job.created_by_id == request.user.pk):
            raise PermissionDenied("only ML engineers, admins and the job's creator may cancel it")
        return Response(JobSerializer(cancel_job(job=job)).data)
