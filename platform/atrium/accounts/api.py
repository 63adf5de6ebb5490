"""The current user, API tokens, study members, the audit log and per-case annotation histories."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    role = serializers.CharField()


class MeView(APIView):
    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        user: Any = request.user
        return Response(
            MeSerializer({"id": user.pk, "username": user.get_username(), "role": user.role}).data
        )


class TokenOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class TokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)


class TokenListView(APIView):
    """The caller's API tokens. POST creates one and returns its key once."""

    @extend_schema(responses=TokenOutSerializer(many=True))
    def get(self, request: Request) -> Response:
        from atrium.accounts.models import ApiToken

        tokens = ApiToken.objects.filter(user=request.user)  # type: ignore[misc]
        return Response(TokenOutSerializer(tokens, many=True).data)

    @extend_schema(request=TokenCreateSerializer, responses={201: TokenOutSerializer})
    def post(self, request: Request) -> Response:
        from atrium.accounts.tokens import create_token

        form = TokenCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        token, key = create_token(user=request.user, name=form.validated_data["name"])
        return Response({**TokenOutSerializer(token).data, "key": key}, status=201)


class TokenDetailView(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request: Request, token_id: int) -> Response:
        from rest_framework.exceptions import NotFound

        from atrium.accounts.models import ApiToken
        from atrium.accounts.tokens import revoke_token

        token = ApiToken.objects.filter(user=request.user, pk=token_id).first()  # type: ignore[misc]
        if token is None:
            raise NotFound(f"you have no token {token_id}")
        revoke_token(token=token, actor=request.user)
        return Response(status=204)


def _study_or_404(request: Request, slug: str) -> Any:
    from rest_framework.exceptions import NotFound

    from atrium.studies.selectors import studies_visible_to

    study = studies_visible_to(request.user).filter(slug=slug).first()
    if study is None:
        raise NotFound(f"study {slug!r} does not exist or is not yours")
    return study


class AuditEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    at = serializers.CharField()
    user = serializers.CharField(allow_null=True)
    action = serializers.CharField()
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    before = serializers.JSONField(allow_null=True)  # type: ignore[assignment]
    after = serializers.JSONField(allow_null=True)  # type: ignore[assignment]


class StudyAuditView(APIView):
    """The study's audit log, newest first (study leads of the study and admins).
    Filters: ?user=<username>&action=<prefix>&since=YYYY-MM-DD&until=YYYY-MM-DD; paginated by limit/offset."""

    @extend_schema(
        parameters=[
            OpenApiParameter("user", str, description="username of the actor"),
            OpenApiParameter("action", str, description="action, or its prefix (annotation., job.)"),
            OpenApiParameter("since", OpenApiTypes.DATE),
            OpenApiParameter("until", OpenApiTypes.DATE),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses=AuditEntrySerializer(many=True),
    )
    def get(self, request: Request, slug: str) -> Response:
        from rest_framework.exceptions import PermissionDenied, ValidationError
        from rest_framework.pagination import LimitOffsetPagination

        from atrium.accounts.selectors import (
            AuditFilterError,
            AuditFilters,
            audit_entries,
            audit_payload,
            may_read_audit,
        )

        study = _study_or_404(request, slug)
        if not may_read_audit(request.user, study):
            raise PermissionDenied("the audit log is for the study's leads and admins")
        try:
            filters = AuditFilters.from_query(request.query_params)
        except AuditFilterError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(audit_entries(study, filters), request, view=self)
        return paginator.get_paginated_response([audit_payload(entry) for entry in page or []])


class HistoryRowSerializer(serializers.Serializer):
    annotation = serializers.IntegerField()
    kind = serializers.CharField()
    version = serializers.IntegerField()
    parent = serializers.IntegerField(allow_null=True)  # type: ignore[assignment]
    user = serializers.CharField()
    at = serializers.CharField()
    deleted = serializers.BooleanField()
    change = serializers.CharField()


class CaseHistoryView(APIView):
    """Every saved version of the case's annotations that the caller may see, oldest first."""

    @extend_schema(responses=HistoryRowSerializer(many=True))
    def get(self, request: Request, case_id: int) -> Response:
        from atrium.accounts.selectors import case_history
        from atrium.annotations.api import visible_case

        return Response(case_history(request.user, visible_case(request, case_id)))


class MemberSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    username = serializers.CharField()
    role = serializers.CharField()
    since = serializers.CharField()


class MemberCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=["annotator", "ml_engineer", "study_lead"])


def _member_payload(membership: Any) -> dict[str, Any]:
    return {
        "user_id": membership.user_id,
        "username": membership.user.get_username(),
        "role": membership.role,
        "since": membership.created_at.isoformat(),
    }


def _managed_study(request: Request, slug: str) -> Any:
    from rest_framework.exceptions import PermissionDenied

    from atrium.accounts.selectors import may_manage_members

    study = _study_or_404(request, slug)
    if not may_manage_members(request.user, study):
        raise PermissionDenied("only the study's leads and admins manage its members")
    return study


class StudyMembersView(APIView):
    """Who belongs to the study. Study leads of the study and admins add members or change their role."""

    @extend_schema(responses=MemberSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        from atrium.accounts.selectors import members_of

        study = _managed_study(request, slug)
        return Response([_member_payload(m) for m in members_of(study)])

    @extend_schema(request=MemberCreateSerializer, responses={201: MemberSerializer})
    def post(self, request: Request, slug: str) -> Response:
        from rest_framework.exceptions import ValidationError

        from atrium.accounts.models import User
        from atrium.accounts.services import add_member

        study = _managed_study(request, slug)
        form = MemberCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        user = User.objects.filter(username=form.validated_data["username"], is_active=True).first()
        if user is None:
            raise ValidationError({"username": [f"no active user {form.validated_data['username']!r}"]})
        membership = add_member(user=user, study=study, role=form.validated_data["role"], actor=request.user)
        return Response(_member_payload(membership), status=201)


class StudyMemberView(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request: Request, slug: str, user_id: int) -> Response:
        from rest_framework.exceptions import NotFound

        from atrium.accounts.models import StudyMembership
        from atrium.accounts.services import remove_member

        study = _managed_study(request, slug)
        membership = (
            StudyMembership.objects.filter(study=study, user_id=user_id).select_related("user").first()
        )
        if membership is None:
            raise NotFound(f"user {user_id} is not a member of {study.slug}")
        remove_member(membership=membership, actor=request.user)
        return Response(status=204)
