"""The session engine (SESSION_ENGINE): Django's database sessions, loaded with one hand-written query.

Every request that touches `request.user` loads its session; through the ORM that lookup cost several
times the query itself. The row, the expiry rule and what happens to an unknown or expired key (the
session starts empty and gets a new key when saved) are Django's; writes stay with Django's code.
"""

from __future__ import annotations

import functools
from typing import Any

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import connections, router
from django.db.models import Model
from django.utils import timezone

from atrium.raw_rows import column, select_value, table


class SessionStore(DatabaseSessionStore):
    def load(self) -> dict[str, Any]:
        data = self._session_data() if self.session_key else None
        if data is None:
            self._session_key = None
            return {}
        return self.decode(data)

    def _session_data(self) -> str | None:
        using = router.db_for_read(self.model)
        now = connections[using].ops.adapt_datetimefield_value(timezone.now())
        return select_value(_session_data_sql(self.model, using), [self.session_key, now], using)  # type: ignore[no-any-return]


@functools.cache
def _session_data_sql(model: type[Model], using: str) -> str:
    """The data of an unexpired session by key (written once per database: it runs on every request)."""
    return (
        f"SELECT {column(model, 'session_data', using)} FROM {table(model, using)}"
        f" WHERE {column(model, 'session_key', using)} = %s AND {column(model, 'expire_date', using)} > %s"
    )
