"""Model instances from hand-written SQL, for the few queries that run on every frame request.

Building a query through the ORM (cloning the queryset, resolving lookups, compiling joins) costs far more
than running it: for the session, the user and the series visibility of a frame request it was about 0.7 ms
of a 2 ms request. Here the SQL is written once per model from its metadata (table and column names, so a
renamed field still works), and each row becomes an instance through `Model.from_db` with the same
converters the ORM applies (dates as the backend returns them, JSON decoded), so what callers get is the
instance the ORM would have built.

Only for lookups by key and simple joins; everything else goes through the ORM.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.db import connections
from django.db.models import Model

M = TypeVar("M", bound=Model)

Converter = Callable[[Any, Any, Any], Any]


class _ModelColumns:
    """A model's concrete columns as SQL, with the ORM's value converters for one database vendor."""

    def __init__(self, model: type[Model], alias: str, connection: Any) -> None:
        quote = connection.ops.quote_name
        fields = model._meta.concrete_fields
        self.table = quote(model._meta.db_table)
        self.select = ", ".join(f"{quote(alias)}.{quote(field.column)}" for field in fields)
        self.attnames = [field.attname for field in fields]
        self.converters: list[tuple[int, list[tuple[Converter, Any]]]] = []
        for index, field in enumerate(fields):
            column = field.get_col(alias)
            found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if found:
                self.converters.append((index, [(converter, column) for converter in found]))

    def convert(self, row: Sequence[Any], connection: Any) -> list[Any]:
        values = list(row)
        for index, converters in self.converters:
            value = values[index]
            for converter, column in converters:
                value = converter(value, column, connection)
            values[index] = value
        return values


_columns: dict[tuple[type[Model], str, str], _ModelColumns] = {}
_lock = threading.Lock()


def model_columns(model: type[Model], alias: str, using: str = "default") -> _ModelColumns:
    connection = connections[using]
    key = (model, alias, connection.vendor)
    found = _columns.get(key)
    if found is None:
        found = _ModelColumns(model, alias, connection)
        with _lock:
            _columns[key] = found
    return found


def quoted(name: str, using: str = "default") -> str:
    return str(connections[using].ops.quote_name(name))


def column(model: type[Model], field: str | None = None, using: str = "default") -> str:
    """The quoted column name of a model's field; its primary key's when no field is named."""
    target = model._meta.pk if field is None else model._meta.get_field(field)
    return quoted(str(getattr(target, "column", "")), using)


def table(model: type[Model], using: str = "default") -> str:
    return quoted(model._meta.db_table, using)


def select_one(
    model: type[M], alias: str, tail: str, params: Sequence[Any], using: str = "default"
) -> M | None:
    """The first row of `SELECT <model's columns> FROM <its table> <alias> <tail>` as an instance, or None.

    `tail` is the rest of the statement (joins, WHERE, LIMIT) with %s placeholders for `params`; table and
    column names in it come from `quoted` and the models' metadata, never from input.
    """
    columns = model_columns(model, alias, using)
    connection = connections[using]
    sql = f"SELECT {columns.select} FROM {columns.table} {quoted(alias, using)} {tail}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    return model.from_db(using, columns.attnames, columns.convert(row, connection))


def select_value(sql: str, params: Sequence[Any], using: str = "default") -> Any:
    """The first column of the first row of `sql`, or None when there is no row."""
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else row[0]
