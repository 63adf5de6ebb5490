"""The environment helpers fail loudly and parse what they are given."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from atrium.settings.env import database_from_url, env_bool, env_int, env_list, env_str


def test_a_required_variable_that_is_missing_names_itself(monkeypatch):
    monkeypatch.delenv("ATRIUM_SOMETHING", raising=False)
    with pytest.raises(ImproperlyConfigured, match="ATRIUM_SOMETHING is required"):
        env_str("ATRIUM_SOMETHING")


def test_a_file_variant_is_read_for_secrets(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("ATRIUM_SECRET_FILE", str(secret))
    assert env_str("ATRIUM_SECRET") == "s3cret"


def test_an_unreadable_file_variant_is_reported(monkeypatch, tmp_path):
    monkeypatch.setenv("ATRIUM_SECRET_FILE", str(tmp_path / "nope"))
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        env_str("ATRIUM_SECRET")


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("1", True), ("off", False), ("no", False)])
def test_booleans_parse_common_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("ATRIUM_FLAG", raw)
    assert env_bool("ATRIUM_FLAG", not expected) is expected


def test_a_non_boolean_is_rejected(monkeypatch):
    monkeypatch.setenv("ATRIUM_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="not a boolean"):
        env_bool("ATRIUM_FLAG", False)


def test_a_non_integer_is_rejected(monkeypatch):
    monkeypatch.setenv("ATRIUM_N", "ten")
    with pytest.raises(ImproperlyConfigured, match="not an integer"):
        env_int("ATRIUM_N", 1)


def test_lists_are_comma_separated_and_trimmed(monkeypatch):
    monkeypatch.setenv("ATRIUM_HOSTS", " a.example , b.example,, ")
    assert env_list("ATRIUM_HOSTS") == ["a.example", "b.example"]


def test_a_postgres_url_becomes_a_psycopg_database_entry():
    db = database_from_url("postgres://alice:p%40ss@db.example:5433/atrium")
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "alice",
        "p@ss",
        "db.example",
        "5433",
        "atrium",
    )


def test_an_unsupported_database_scheme_is_named():
    with pytest.raises(ImproperlyConfigured, match="'mysql' is not supported"):
        database_from_url("mysql://x@y/z")


def test_a_database_url_without_a_name_is_rejected():
    with pytest.raises(ImproperlyConfigured, match="names no database"):
        database_from_url("postgres://x@y:5432/")


def test_without_atrium_db_pool_connections_persist_per_thread(monkeypatch):
    monkeypatch.delenv("ATRIUM_DB_POOL", raising=False)
    db = database_from_url("postgres://x@y:5432/atrium")
    assert db["CONN_MAX_AGE"] == 60
    assert "pool" not in db["OPTIONS"]  # type: ignore[operator]


def test_atrium_db_pool_turns_on_a_bounded_pool_without_persistent_connections(monkeypatch):
    monkeypatch.setenv("ATRIUM_DB_POOL", "8")
    db = database_from_url("postgres://x@y:5432/atrium")
    assert db["CONN_MAX_AGE"] == 0  # Django refuses a pool with persistent connections
    assert db["CONN_HEALTH_CHECKS"] is True  # the pool checks a connection before handing it out
    assert db["OPTIONS"] == {"connect_timeout": 5, "pool": {"min_size": 2, "max_size": 8, "timeout": 10}}


def test_a_negative_pool_size_is_rejected(monkeypatch):
    monkeypatch.setenv("ATRIUM_DB_POOL", "-1")
    with pytest.raises(ImproperlyConfigured, match="ATRIUM_DB_POOL=-1"):
        database_from_url("postgres://x@y:5432/atrium")
