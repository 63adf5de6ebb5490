"""atrium.raw_rows builds the instance the ORM would: the same field values, converted the same way."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Model

from atrium.imaging.models import Series
from atrium.raw_rows import model_columns, quoted, select_one, select_value
from tests.factories import SeriesFactory

pytestmark = pytest.mark.django_db


def field_values(instance: Model) -> dict[str, object]:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def by_pk(alias: str, model: type[Model]) -> str:
    return f"WHERE {quoted(alias)}.{quoted(model._meta.pk.column)} = %s"


def test_a_series_row_becomes_the_instance_the_orm_loads():
    made = SeriesFactory(
        shape=[2, 3, 8, 10],
        dtype="uint16",
        pixel_spacing_mm=[1.25, 1.5],
        window_center=40.5,
        window_width=None,
    )
    raw = select_one(Series, "s", by_pk("s", Series), [made.pk])
    orm = Series.objects.get(pk=made.pk)
    assert isinstance(raw, Series)
    assert field_values(raw) == field_values(orm)
    # JSON comes back decoded and dates as aware datetimes, as from the ORM, not as the backend's text
    assert raw.shape == [2, 3, 8, 10] and raw.pixel_spacing_mm == [1.25, 1.5]
    assert raw.window_width is None
    assert not raw._state.adding and raw._state.db == "default"


def test_a_user_row_keeps_dates_and_flags():
    user = get_user_model().objects.create_user(username="kim", password="kim-password", is_staff=True)
    user.last_login = datetime.datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=datetime.UTC)
    user.save()
    raw = select_one(get_user_model(), "u", by_pk("u", get_user_model()), [user.pk])
    assert raw is not None
    assert field_values(raw) == field_values(get_user_model().objects.get(pk=user.pk))
    assert raw.last_login == user.last_login and raw.last_login.tzinfo is not None
    assert raw.is_staff is True and raw.is_superuser is False
    assert raw.check_password("kim-password")


def test_no_row_is_none():
    assert select_one(Series, "s", by_pk("s", Series), [987654]) is None
    assert select_value(f"SELECT 1 FROM {quoted(Series._meta.db_table)} WHERE 1 = 0", []) is None


def test_the_column_list_follows_the_model_metadata():
    columns = model_columns(Series, "s")
    assert columns.attnames == [field.attname for field in Series._meta.concrete_fields]
    assert "imaging_study_id" in columns.attnames
    assert columns.select.count(",") == len(columns.attnames) - 1
    assert columns.table == connection.ops.quote_name(Series._meta.db_table)
