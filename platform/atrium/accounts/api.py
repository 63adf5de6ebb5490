"""The current user."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
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
        revoke_token(token=token)
        return Response(status=204)
