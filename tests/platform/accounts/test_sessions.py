"""Session logins through atrium.accounts.sessions and AccountBackend: the rules are Django's."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.utils import timezone

from atrium.accounts.backends import AccountBackend
from atrium.accounts.sessions import SessionStore


@pytest.fixture
def logged_in(client, people):
    client.post("/accounts/login/", {"username": "ann", "password": "ann-password"})
    assert client.get("/api/me/").status_code == 200
    return client


def session_row(client) -> Session:
    return Session.objects.get(session_key=client.cookies["sessionid"].value)


def test_a_password_login_makes_a_session_the_api_and_pages_accept(logged_in, people):
    assert logged_in.get("/api/me/").json()["username"] == "ann"
    row = session_row(logged_in)
    assert row.get_decoded()[SESSION_KEY] == str(people.annotator.pk)


def test_an_expired_session_is_no_login(logged_in):
    row = session_row(logged_in)
    row.expire_date = timezone.now() - datetime.timedelta(seconds=1)
    row.save()
    assert logged_in.get("/api/me/").status_code in (401, 403)


def test_an_unknown_or_malformed_session_key_is_no_login(client, people):
    for key in ("no-such-session-key-000000000000", "short", ""):
        client.cookies["sessionid"] = key
        assert client.get("/api/me/").status_code in (401, 403)


def test_logging_out_ends_the_session(logged_in):
    key = logged_in.cookies["sessionid"].value
    logged_in.post("/accounts/logout/")
    assert not Session.objects.filter(session_key=key).exists()
    logged_in.cookies["sessionid"] = key
    assert logged_in.get("/api/me/").status_code in (401, 403)


def test_a_deactivated_user_loses_the_session(logged_in, people):
    people.annotator.is_active = False
    people.annotator.save()
    assert logged_in.get("/api/me/").status_code in (401, 403)


def test_a_password_change_elsewhere_ends_other_sessions(logged_in, people):
    people.annotator.set_password("a-new-password-for-ann")
    people.annotator.save()
    assert logged_in.get("/api/me/").status_code in (401, 403)


@pytest.mark.django_db
def test_the_store_loads_what_it_saved_and_forgets_a_stale_key():
    store = SessionStore()
    store["answer"] = 42
    store.create()
    assert SessionStore(store.session_key).load() == {"answer": 42}
    Session.objects.filter(session_key=store.session_key).update(
        expire_date=timezone.now() - datetime.timedelta(minutes=1)
    )
    stale = SessionStore(store.session_key)
    assert stale.load() == {}
    assert stale.session_key is None  # saved again, it gets a fresh key, never the stale one


@pytest.mark.django_db
def test_the_backend_finds_active_users_only(people):
    backend = AccountBackend()
    found = backend.get_user(str(people.annotator.pk))
    assert found == people.annotator and found.role == "annotator" and found.username == "ann"
    assert backend.get_user("987654") is None
    assert backend.get_user("not-a-number") is None
    people.annotator.is_active = False
    people.annotator.save()
    assert backend.get_user(people.annotator.pk) is None
    assert backend.authenticate(None, username="bob", password="bob-password") == people.annotator2
    assert backend.authenticate(None, username="bob", password="wrong") is None
