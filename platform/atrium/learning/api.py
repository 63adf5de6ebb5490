"""Jobs: list, create (ML engineers), cancel."""

from __future__ import annotations

from typing import Any

from django.utils.module_loading import import_string
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from atrium.learning.models import JobKind, ModelVersion
from atrium.learning.selectors import jobs_visible_to
from atrium.learning.serializers import JobCreateSerializer, JobSerializer, ModelVersionSerializer
from atrium.learning.services import cancel_job, enqueue_job
from atrium.studies.selectors import studies_visible_to


def _user(request: Request) -> Any:
    return request.user


# Kinds whose params are checked (and normalised) at the API; the handlers check them again when they run.
PARAM_CHECKS = {
    JobKind.SIMULATE: "atrium.learning.simulation_api.validated_simulation_params",
    JobKind.RECONSTRUCT: "atrium.learning.reconstruction.validated_reconstruct_params",
    JobKind.ADAPT: "atrium.learning.adaptation.validated_adapt_params",
    JobKind.TRAIN: "atrium.learning.train_params.validated_train_params",
}


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
        params = form.validated_data["params"]
        check = PARAM_CHECKS.get(form.validated_data["kind"])
        if check is not None:  # a 400 naming the bad parameter, before anything is queued
            params = import_string(check)(study, params)
        job = enqueue_job(
            kind=form.validated_data["kind"],
            params=params,
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
        return Response(JobSerializer(cancel_job(job=job, actor=request.user)).data)


class ModelVersionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Model versions of the caller's studies; ML engineers promote and roll back."""

    serializer_class = ModelVersionSerializer
    queryset = ModelVersion.objects.none()

    def get_queryset(self):  # type: ignore[no-untyped-def]
        from atrium.learning.selectors import model_versions_visible_to

        if getattr(self, "swagger_fake_view", False):
            return ModelVersion.objects.none()
        queryset = model_versions_visible_to(self.request.user).select_related("study", "parent")
        study = self.request.query_params.get("study")
        return queryset.filter(study__slug=study) if study else queryset

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def promote(self, request: Request, pk: str | None = None) -> Response:
        from atrium.learning.registry import promote

        target = self.get_object()  # 404 first: a model outside the caller's studies is not theirs to see
        if not _user(request).can_manage_models():
            raise PermissionDenied("only ML engineers and admins may promote models")
        version = promote(version=target, actor=request.user)
        return Response(self.get_serializer(version).data)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def rollback(self, request: Request, pk: str | None = None) -> Response:
        from rest_framework.exceptions import ValidationError

        from atrium.learning.registry import rollback

        current = self.get_object()  # 404 first, as for promote
        if not _user(request).can_manage_models():
            raise PermissionDenied("only ML engineers and admins may roll back models")
        try:
            version = rollback(study=current.study, family=current.family, actor=request.user)
        except ValueError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return Response(self.get_serializer(version).data)


class PredictionItemSerializer(serializers.Serializer):
    id = serializers.CharField()
    model_version = serializers.DictField()
    kind = serializers.CharField()
    data = serializers.JSONField()  # type: ignore[assignment]


class CasePredictionsView(APIView):
    """The promoted model's output for a case, flattened like annotations (hidden in blind studies that say so)."""

    @extend_schema(responses=PredictionItemSerializer(many=True))
    def get(self, request: Request, case_id: int) -> Response:
        from atrium.annotations.api import visible_case
        from atrium.annotations.selectors import model_output_visible_to
        from atrium.learning.models import Prediction

        case = visible_case(request, case_id)
        if not model_output_visible_to(request.user, case):
            return Response([])
        latest = (
            Prediction.objects.filter(case=case, model_version__promoted=True)
            .select_related("model_version")
            .order_by("-id")
            .first()
        )
        if latest is None:
            return Response([])
        version = {
            "id": latest.model_version_id,
            "family": latest.model_version.family,
            "number": latest.model_version.number,
        }
        if latest.kind == "label_map":
            items = [
                {"id": f"{latest.pk}:{i}", "model_version": version, "kind": "contour", "data": contour}
                for i, contour in enumerate(latest.data.get("contours", []))
            ]
        else:
            items = [
                {
                    "id": f"{latest.pk}:{f['frame']}",
                    "model_version": version,
                    "kind": "plane_frame",
                    "data": f,
                }
                for f in latest.data.get("frames", [])
            ]
        return Response(items)
