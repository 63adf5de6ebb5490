"""The authentication backend: Django's ModelBackend, with the per-request user lookup as one plain query.

Passwords, permissions and `is_active` are ModelBackend's. `get_user` runs on every authenticated request
(AuthenticationMiddleware); it loads the same row the ORM would, through atrium.raw_rows.
"""

from __future__ import annotations

import functools
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.db import router
from django.db.models import Model

from atrium.raw_rows import column, quoted, select_one


class AccountBackend(ModelBackend):
    def get_user(self, user_id: Any) -> Any:
        model = get_user_model()
        using = router.db_for_read(model)
        try:
            key = model._meta.pk.to_python(user_id)  # type: ignore[union-attr]
        except ValidationError:  # a malformed id in a session is no user
            return None
        user = select_one(model, "u", _by_pk_sql(model, using), [key], using)
        return user if user is not None and self.user_can_authenticate(user) else None


@functools.cache
def _by_pk_sql(model: type[Model], using: str) -> str:
    """The WHERE of a user by primary key (written once per database: it runs on every request)."""
    return f"WHERE {quoted('u', using)}.{column(model, using=using)} = %s"
