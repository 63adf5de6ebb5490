"""Studies and cases the user may see."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from atrium.studies.selectors import cases_visible_to, studies_visible_to
from atrium.studies.serializers import CaseSerializer, StudySerializer
from atrium.studies.services import next_case_for, submit_case


class StudyViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = StudySerializer
    lookup_field = "slug"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return studies_visible_to(self.request.user)


class CaseViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = CaseSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        queryset = cases_visible_to(self.request.user)
        study = self.request.query_params.get("study")
        if study:
            queryset = queryset.filter(study__slug=study)
        return queryset

    @extend_schema(request=None, responses=CaseSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str | None = None) -> Response:
        case = submit_case(case=self.get_object(), user=request.user)
        return Response({"id": case.pk, "status": case.status})


class NextCaseView(APIView):
    """The caller's next case from their queue (assigning it), or 204 when nothing is waiting."""

    @extend_schema(responses={200: None, 204: None})
    def get(self, request: Request) -> Response:
        study = None
        slug = request.query_params.get("study")
        if slug:
            study = studies_visible_to(request.user).filter(slug=slug).first()
            if study is None:
                return Response({"detail": f"study {slug!r} does not exist or is not yours"}, status=404)
        case = next_case_for(user=request.user, study=study)
        if case is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response({"case_id": case.pk, "url": f"/cases/{case.pk}/"})
