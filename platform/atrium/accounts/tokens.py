"""API tokens: `Authorization: Token <key>`. Keys are random; the database keeps their SHA-256 only."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.db import transaction
from django.utils import timezone
from rest_framework import authentication, exceptions

from atrium.accounts.models import ApiToken

PREFIX_LENGTH = 8


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def create_token(*, user: Any, name: str) -> tuple[ApiToken, str]:
    """A new token and its key; the key is returned once and never stored."""
    if not name.strip():
        raise ValueError("a token needs a name")
    key = "atr_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name.strip()[:100], prefix=key[: PREFIX_LENGTH + 4], key_hash=hash_key(key)
    )
    return token, key


@transaction.atomic
def revoke_token(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


class TokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request: Any) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0] != self.keyword:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("the Authorization header must be 'Token <key>'")
        token = ApiToken.objects.select_related("user").filter(key_hash=hash_key(header[1])).first()
        if token is None or not token.is_active:
            raise exceptions.AuthenticationFailed("this API token is unknown or revoked")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("this token's user is deactivated")
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        return token.user, token

    def authenticate_header(self, request: Any) -> str:
        return self.keyword
