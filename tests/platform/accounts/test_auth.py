"""API tokens, the login rate limit and security headers."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def test_a_user_creates_a_token_and_the_api_accepts_it(people, api_client):
    created = api_client(people.annotator).post("/api/tokens/", {"name": "laptop"}, format="json")
    assert created.status_code == 201
    key = created.json()["key"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    me = client.get("/api/me/")
    assert me.status_code == 200 and me.json()["username"] == "ann"
    listed = api_client(people.annotator).get("/api/tokens/").json()
    assert [t["name"] for t in listed] == ["laptop"] and "key" not in listed[0]


def test_a_revoked_token_is_refused(people, api_client):
    created = api_client(people.annotator).post("/api/tokens/", {"name": "old"}, format="json").json()
    assert api_client(people.annotator).delete(f"/api/tokens/{created['id']}/").status_code == 204
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {created['key']}")
    response = client.get("/api/me/")
    assert response.status_code == 401
    assert "unknown or revoked" in response.json()["detail"]


def test_nobody_revokes_another_users_token(people, api_client):
    created = api_client(people.annotator).post("/api/tokens/", {"name": "mine"}, format="json").json()
    assert api_client(people.annotator2).delete(f"/api/tokens/{created['id']}/").status_code == 404


def test_the_database_keeps_only_a_hash_of_the_key(people, api_client):
    from atrium.accounts.models import ApiToken

    key = api_client(people.annotator).post("/api/tokens/", {"name": "x"}, format="json").json()["key"]
    stored = ApiToken.objects.get()
    assert key not in (stored.key_hash, stored.prefix) and len(stored.key_hash) == 64


def test_the_api_refuses_anonymous_requests(db):
    response = APIClient().get("/api/cases/")
    assert response.status_code in (401, 403)


def test_repeated_failed_logins_are_rate_limited(client, people, settings):
    settings.ATRIUM_LOGIN_FAILURE_LIMIT = 3
    for _ in range(3):
        assert client.post("/accounts/login/", {"username": "ann", "password": "wrong"}).status_code == 200
    blocked = client.post("/accounts/login/", {"username": "ann", "password": "ann-password"})
    assert blocked.status_code == 429
    assert b"Too many failed log-ins" in blocked.content and blocked["Retry-After"]


def test_a_successful_login_is_not_counted_as_a_failure(client, people, settings):
    settings.ATRIUM_LOGIN_FAILURE_LIMIT = 2
    for _ in range(4):
        assert (
            client.post("/accounts/login/", {"username": "ann", "password": "ann-password"}).status_code
            == 302
        )


def test_pages_carry_security_headers(client, db):
    response = client.get("/accounts/login/")
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
def test_last_used_is_written_on_first_use_then_at_most_once_a_minute(people):
    from datetime import timedelta

    from atrium.accounts.models import ApiToken
    from atrium.accounts.tokens import create_token

    token, key = create_token(user=people.annotator, name="busy client")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/me/").status_code == 200
    first = ApiToken.objects.get(pk=token.pk).last_used_at
    assert first is not None
    assert client.get("/api/me/").status_code == 200
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first  # within the minute: no write
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    assert client.get("/api/me/").status_code == 200
    assert ApiToken.objects.get(pk=token.pk).last_used_at > first  # a minute later: written again
