"""Annotation endpoints: list and create on a case; update, delete and history of one annotation."""

from __future__ import annotations

import json
from typing import Any

from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from atrium.annotations.models import Annotation, AnnotationKind
from atrium.annotations.selectors import annotations_visible_to, may_see
from atrium.annotations.services import (
    annotation_payload,
    create_annotation,
    delete_annotation,
    update_annotation,
)
from atrium.studies.models import Case
from atrium.studies.selectors import cases_visible_to, studies_visible_to


class AnnotationCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=AnnotationKind.choices)
    data = serializers.JSONField()  # type: ignore[assignment]


class AnnotationUpdateSerializer(serializers.Serializer):
    data = serializers.JSONField()  # type: ignore[assignment]
    version = serializers.IntegerField(min_value=1, help_text="the version this edit was based on")


class PhasesSerializer(serializers.Serializer):
    ed_phase = serializers.IntegerField(min_value=0, allow_null=True, required=False)
    es_phase = serializers.IntegerField(min_value=0, allow_null=True, required=False)


class AnnotationOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    case = serializers.IntegerField()
    kind = serializers.CharField()
    author = serializers.DictField()
    source = serializers.CharField()  # type: ignore[assignment]
    version = serializers.IntegerField()
    data = serializers.JSONField()  # type: ignore[assignment]
    deleted = serializers.BooleanField()
    created_at = serializers.CharField()
    updated_at = serializers.CharField()


def visible_case(request: Request, case_id: int) -> Case:
    case = cases_visible_to(request.user).filter(pk=case_id).first()
    if case is None:
        raise NotFound(f"case {case_id} does not exist or is not in one of your studies")
    return case


# What the annotation endpoints and the save services read of an annotation's case, study, series and
# author (a deferred field still loads when something reads it, with a query of its own).
ANNOTATION_WITH_CONTEXT = (
    *(f.name for f in Annotation._meta.concrete_fields),
    "case__study__blind",
    "case__study__blind_hides_model",
    "case__study__slug",
    "case__series__layout",
    "case__series__shape",
    "author__username",
)


def visible_annotation(request: Request, annotation_id: int) -> Annotation:
    """The annotation, deleted or not, if its case is in one of the user's studies and blind reading
    does not hide it; one query (a save runs this on every request)."""
    annotation = (
        Annotation.objects.select_related("case__study", "case__series", "author")
        .only(*ANNOTATION_WITH_CONTEXT)
        .filter(pk=annotation_id, case__study__in=studies_visible_to(request.user))
        .first()
    )
    if annotation is None or not may_see(request.user, annotation):
        raise NotFound(f"no annotation matches id {annotation_id} in your studies")
    return annotation


def annotation_list_json(queryset: QuerySet[Annotation]) -> bytes:
    """The list as `annotation_payload` would give it, but each row's `data` goes out as the text the
    database holds: a case with hundreds of contours is never decoded and re-encoded point by point."""
    rows = queryset.values_list(
        "id",
        "case_id",
        "kind",
        "author_id",
        "author__username",
        "version",
        "deleted",
        "created_at",
        "updated_at",
    ).annotate(raw_data=Cast("data", TextField()))
    parts = []
    for pk, case_id, kind, author_id, username, version, deleted, created, updated, raw_data in rows:
        head = json.dumps(
            {
                "id": pk,
                "case": case_id,
                "kind": kind,
                "author": {"id": author_id, "username": username},
                "source": "observer",
                "version": version,
                "deleted": deleted,
                "created_at": created.isoformat(),
                "updated_at": updated.isoformat(),
            }
        )
        parts.append(f'{head[:-1]}, "data": {raw_data}}}')
    return f"[{','.join(parts)}]".encode()


class CaseAnnotationsView(APIView):
    @extend_schema(responses=AnnotationOutSerializer(many=True))
    def get(self, request: Request, case_id: int) -> HttpResponse:
        case = visible_case(request, case_id)
        rows = annotations_visible_to(request.user, case).order_by("id")
        return HttpResponse(annotation_list_json(rows), content_type="application/json")

    @extend_schema(request=AnnotationCreateSerializer, responses={201: AnnotationOutSerializer})
    def post(self, request: Request, case_id: int) -> Response:
        case = visible_case(request, case_id)
        form = AnnotationCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        annotation = create_annotation(
            case=case, author=request.user, kind=form.validated_data["kind"], data=form.validated_data["data"]
        )
        return Response(annotation_payload(annotation), status=status.HTTP_201_CREATED)


class AnnotationDetailView(APIView):
    @extend_schema(responses=AnnotationOutSerializer)
    def get(self, request: Request, annotation_id: int) -> Response:
        return Response(annotation_payload(visible_annotation(request, annotation_id)))

    @extend_schema(request=AnnotationUpdateSerializer, responses={200: AnnotationOutSerializer})
    def put(self, request: Request, annotation_id: int) -> Response:
        annotation = visible_annotation(request, annotation_id)
        form = AnnotationUpdateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        updated = update_annotation(
            annotation=annotation,
            author=request.user,
            data=form.validated_data["data"],
            expected_version=form.validated_data["version"],
        )
        return Response(annotation_payload(updated))

    @extend_schema(
        parameters=[OpenApiParameter("version", int, required=True, description="the version being deleted")],
        responses={204: None},
    )
    def delete(self, request: Request, annotation_id: int) -> Response:
        annotation = visible_annotation(request, annotation_id)
        raw = request.query_params.get("version")
        if raw is None or not raw.isdigit():
            raise ValidationError({"version": ["pass ?version=N, the version you are deleting"]})
        delete_annotation(annotation=annotation, author=request.user, expected_version=int(raw))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AnnotationVersionsView(APIView):
    @extend_schema(responses=serializers.ListSerializer(child=serializers.DictField()))
    def get(self, request: Request, annotation_id: int) -> Response:
        annotation = visible_annotation(request, annotation_id)
        versions = annotation.versions.select_related("author").order_by("number")
        return Response(
            [
                {
                    "number": v.number,
                    "parent": v.parent.number if v.parent_id and v.parent else None,
                    "author": v.author.get_username(),
                    "data": v.data,
                    "deleted": v.deleted,
                    "created_at": v.created_at.isoformat(),
                }
                for v in versions
            ]
        )


class CasePhasesView(APIView):
    """The observer's own ED/ES marks on a cine (stored as their 'phases' annotation)."""

    @extend_schema(request=PhasesSerializer, responses={200: AnnotationOutSerializer})
    def patch(self, request: Request, case_id: int) -> Response:
        case = visible_case(request, case_id)
        form = PhasesSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        current: dict[str, Any] = {}
        user: Any = request.user
        mine = Annotation.objects.filter(case=case, author=user, kind="phases", deleted=False).first()
        if mine is not None:
            current = dict(mine.data)
        current.update(form.validated_data)
        annotation = create_annotation(case=case, author=request.user, kind="phases", data=current)
        return Response(annotation_payload(annotation))
