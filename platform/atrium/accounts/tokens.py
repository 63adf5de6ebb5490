"""API tokens: `Authorization: Token <key>`. Keys are random; the database keeps their SHA-256 only."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from rest_framework import authentication, exceptions

from atrium.accounts.models import ApiToken
from atrium.accounts.services import record_audit

PREFIX_LENGTH = 8
LAST_USED_PRECISION = timedelta(minutes=1)


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
    record_audit(
        actor=user, action="token.create", obj=token, after={"name": token.name, "prefix": token.prefix}
    )
    return token, key


@transaction.atomic
def revoke_token(*, token: ApiToken, actor: Any = None) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        record_audit(
            actor=actor or token.user,
            action="token.revoke",
            obj=token,
            before={"name": token.name, "prefix": token.prefix, "revoked_at": None},
            after={"name": token.name, "prefix": token.prefix, "revoked_at": token.revoked_at.isoformat()},
        )
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
        now = timezone.now()
        # A write (and a commit) on every API call is the largest cost of a busy client's requests; a
        # minute's precision is enough for "last used", so the row is written at most once a minute.
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request: Any) -> str:
        return self.keyword
