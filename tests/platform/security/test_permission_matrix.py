"""Every URL pattern against every role: the table below says what each role gets, and a test fails when a
route (or a REST method) has no row.

The world (tests/platform/security/world.py) is one *blind* cardiac study whose members are annotator,
annotator2, ml_engineer and study_lead; `outsider` is an annotator of no study and `admin` belongs to none.
The annotation belongs to `annotator`. API calls authenticate with each user's API token, pages with a
browser session. Each role's request runs in a savepoint that is rolled back, so every role meets the same
world. Columns: anonymous, outsider, annotator, annotator2, ml_engineer, study_lead, admin.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient
from rest_framework.views import APIView

from tests.platform.security.world import ROLES, SQUARE, World, build_world

LOGIN = 302  # a page answers an anonymous visitor with a redirect to the login page


@dataclass(frozen=True)
class Rule:
    name: str  # URL name, with its namespace for pages ("ui:case")
    method: str
    path: str  # formatted with World.ids
    expect: tuple[int, ...]  # one status per role, in ROLES order
    body: Callable[[World], Any] | None = None
    send: str = "json"  # json | multipart | stow | form

    @property
    def id(self) -> str:
        return f"{self.name}-{self.method}"


def _contour(world: World) -> dict[str, Any]:
    return {"kind": "contour", "data": {"structure": "lv_epi", "slice": 1, "phase": 2, "points": SQUARE}}


def _edit(world: World) -> dict[str, Any]:
    return {"data": {"structure": "lv_endo", "slice": 0, "phase": 1, "points": SQUARE}, "version": 1}


def _upload(world: World) -> dict[str, Any]:
    return {f"file{i}": SimpleUploadedFile(name, data) for i, (name, data) in enumerate(world.dicom_files)}


def _stow(world: World) -> tuple[bytes, str]:
    from atrium.imaging.multipart_related import build_multipart

    return build_multipart([data for _, data in world.dicom_files], "application/dicom")


_S = "/api/studies/{slug}"
_DW = "/dicomweb/studies/{study_uid}"
_SER = _DW + "/series/{series_uid}"
_INST = _SER + "/instances/{instance_uid}"

#                                                                anon  out  ann  ann2 mle  lead adm
RULES: list[Rule] = [
    # --- the current user and their API tokens
    Rule("me", "GET", "/api/me/", (401, 200, 200, 200, 200, 200, 200)),
    Rule("tokens", "GET", "/api/tokens/", (401, 200, 200, 200, 200, 200, 200)),
    Rule("tokens", "POST", "/api/tokens/", (401, 201, 201, 201, 201, 201, 201), lambda w: {"name": "cli"}),
    # tokens are personal: nobody else, admins included, sees or revokes one
    Rule("token-detail", "DELETE", "/api/tokens/{token}/", (401, 404, 204, 404, 404, 404, 404)),
    # --- schema and API root: the schema describes the API and holds no data
    Rule("schema", "GET", "/api/schema/", (200, 200, 200, 200, 200, 200, 200)),
    Rule("docs", "GET", "/api/docs/", (200, 200, 200, 200, 200, 200, 200)),
    Rule("api-root", "GET", "/api/", (401, 200, 200, 200, 200, 200, 200)),
    # --- studies and cases: members and admins; others do not learn the study exists
    Rule("study-list", "GET", "/api/studies/", (401, 200, 200, 200, 200, 200, 200)),
    Rule("study-detail", "GET", _S + "/", (401, 404, 200, 200, 200, 200, 200)),
    Rule("case-list", "GET", "/api/cases/", (401, 200, 200, 200, 200, 200, 200)),
    Rule("case-detail", "GET", "/api/cases/{case}/", (401, 404, 200, 200, 200, 200, 200)),
    Rule("case-submit", "POST", "/api/cases/{case}/submit/", (401, 404, 200, 200, 200, 200, 200)),
    Rule("queue-next", "GET", "/api/queue/next/", (401, 204, 200, 200, 200, 200, 200)),
    Rule("case-predictions", "GET", "/api/cases/{case}/predictions/", (401, 404, 200, 200, 200, 200, 200)),
    # --- annotations: blind study, so annotator2 does not see annotator's work; only the author edits
    Rule("case-annotations", "GET", "/api/cases/{case}/annotations/", (401, 404, 200, 200, 200, 200, 200)),
    Rule(
        "case-annotations",
        "POST",
        "/api/cases/{case}/annotations/",
        (401, 404, 201, 201, 201, 201, 201),
        _contour,
    ),
    Rule(
        "case-phases",
        "PATCH",
        "/api/cases/{case}/phases/",
        (401, 404, 200, 200, 200, 200, 200),
        lambda w: {"ed_phase": 0, "es_phase": 1},
    ),
    Rule("annotation-detail", "GET", "/api/annotations/{annotation}/", (401, 404, 200, 404, 200, 200, 200)),
    Rule(
        "annotation-detail",
        "PUT",
        "/api/annotations/{annotation}/",
        (401, 404, 200, 404, 403, 403, 403),
        _edit,
    ),
    Rule(
        "annotation-detail",
        "DELETE",
        "/api/annotations/{annotation}/?version=1",
        (401, 404, 204, 404, 403, 403, 403),
    ),
    Rule(
        "annotation-versions",
        "GET",
        "/api/annotations/{annotation}/versions/",
        (401, 404, 200, 404, 200, 200, 200),
    ),
    Rule("case-history", "GET", "/api/cases/{case}/history/", (401, 404, 200, 200, 200, 200, 200)),
    # --- audit log and memberships: the study's leads and admins
    Rule("study-audit", "GET", _S + "/audit/", (401, 404, 403, 403, 403, 200, 200)),
    Rule("study-members", "GET", _S + "/members/", (401, 404, 403, 403, 403, 200, 200)),
    Rule(
        "study-members",
        "POST",
        _S + "/members/",
        (401, 404, 403, 403, 403, 201, 201),
        lambda w: {"username": w.users["outsider"].username, "role": "annotator"},
    ),
    Rule("study-member", "DELETE", _S + "/members/{member}/", (401, 404, 403, 403, 403, 204, 204)),
    # --- images: members; reference labels are ground truth for ML engineers, leads and admins
    Rule("series-detail", "GET", "/api/series/{series}/", (401, 404, 200, 200, 200, 200, 200)),
    Rule("series-frames", "GET", "/api/series/{series}/frames/", (401, 404, 200, 200, 200, 200, 200)),
    Rule("series-frame", "GET", "/api/series/{series}/frames/0/", (401, 404, 200, 200, 200, 200, 200)),
    Rule("series-labels", "GET", "/api/series/{series}/labels/0/", (401, 404, 403, 403, 200, 200, 200)),
    # uploads: leads, ML engineers and admins; the world's files are already stored, so 200 (duplicates)
    Rule(
        "study-uploads", "POST", _S + "/uploads/", (401, 404, 403, 403, 200, 200, 200), _upload, "multipart"
    ),
    # --- agreement: ML engineers read, leads and admins also recompute
    Rule("agreement-report", "GET", _S + "/agreement/", (401, 404, 403, 403, 200, 200, 200)),
    Rule("agreement-recompute", "POST", _S + "/agreement/recompute/", (401, 404, 403, 403, 403, 202, 202)),
    Rule("reads-export", "GET", _S + "/exports/contours/", (401, 404, 403, 403, 200, 200, 200)),
    # --- active-learning simulations: members read the curves
    Rule("learning-curves", "GET", _S + "/learning-curves/", (401, 404, 200, 200, 200, 200, 200)),
    # --- jobs and models: ML engineers and admins manage; members read
    Rule("job-list", "GET", "/api/jobs/", (401, 200, 200, 200, 200, 200, 200)),
    Rule(
        "job-list",
        "POST",
        "/api/jobs/",
        (401, 403, 403, 403, 201, 403, 201),
        lambda w: {"kind": "train", "study": w.study.slug},
    ),
    Rule("job-detail", "GET", "/api/jobs/{job}/", (401, 404, 200, 200, 200, 200, 200)),
    Rule("job-cancel", "POST", "/api/jobs/{job}/cancel/", (401, 404, 403, 403, 200, 403, 200)),
    Rule("model-version-list", "GET", "/api/models/", (401, 200, 200, 200, 200, 200, 200)),
    Rule("model-version-detail", "GET", "/api/models/{model_v1}/", (401, 404, 200, 200, 200, 200, 200)),
    Rule(
        "model-version-promote",
        "POST",
        "/api/models/{model_v1}/promote/",
        (401, 404, 403, 403, 200, 403, 200),
    ),
    Rule(
        "model-version-rollback",
        "POST",
        "/api/models/{model_v2}/rollback/",
        (401, 404, 403, 403, 200, 403, 200),
    ),
    # --- DICOMweb (HTTP Basic or token): searches show only visible studies; STOW like uploads
    Rule("dicomweb-studies", "GET", "/dicomweb/studies", (401, 200, 200, 200, 200, 200, 200)),
    Rule(
        "dicomweb-studies",
        "POST",
        "/dicomweb/studies?study={slug}",
        (401, 404, 403, 403, 200, 200, 200),
        _stow,
        "stow",
    ),
    Rule("dicomweb-series-all", "GET", "/dicomweb/series", (401, 200, 200, 200, 200, 200, 200)),
    Rule("dicomweb-instances-all", "GET", "/dicomweb/instances", (401, 200, 200, 200, 200, 200, 200)),
    Rule("dicomweb-study-metadata", "GET", _DW + "/metadata", (401, 404, 200, 200, 200, 200, 200)),
    Rule("dicomweb-series", "GET", _DW + "/series", (401, 200, 200, 200, 200, 200, 200)),
    Rule("dicomweb-study-instances", "GET", _DW + "/instances", (401, 200, 200, 200, 200, 200, 200)),
    Rule("dicomweb-series-metadata", "GET", _SER + "/metadata", (401, 404, 200, 200, 200, 200, 200)),
    Rule("dicomweb-instances", "GET", _SER + "/instances", (401, 200, 200, 200, 200, 200, 200)),
    Rule("dicomweb-instance-metadata", "GET", _INST + "/metadata", (401, 404, 200, 200, 200, 200, 200)),
    Rule("dicomweb-frames", "GET", _INST + "/frames/1", (401, 404, 200, 200, 200, 200, 200)),
    Rule("dicomweb-study", "GET", _DW, (401, 404, 200, 200, 200, 200, 200)),
    Rule("dicomweb-series-retrieve", "GET", _SER, (401, 404, 200, 200, 200, 200, 200)),
    Rule("dicomweb-instance", "GET", _INST, (401, 404, 200, 200, 200, 200, 200)),
    Rule("dicomweb-instance-rendered", "GET", _INST + "/rendered", (401, 404, 200, 200, 200, 200, 200)),
    Rule(
        "dicomweb-frames-rendered",
        "GET",
        _INST + "/frames/1/rendered",
        (401, 404, 200, 200, 200, 200, 200),
    ),
    # --- operations endpoints: open (metrics take a bearer token when ATRIUM_METRICS_TOKEN is set)
    Rule("metrics", "GET", "/metrics", (200, 200, 200, 200, 200, 200, 200)),
    Rule("health-live", "GET", "/health/live", (200, 200, 200, 200, 200, 200, 200)),
    Rule("health-ready", "GET", "/health/ready", (200, 200, 200, 200, 200, 200, 200)),
    # --- pages (browser session)
    Rule("ui:login", "GET", "/accounts/login/", (200, 200, 200, 200, 200, 200, 200)),
    Rule("ui:logout", "POST", "/accounts/logout/", (302, 302, 302, 302, 302, 302, 302), send="form"),
    Rule("ui:studies", "GET", "/", (LOGIN, 200, 200, 200, 200, 200, 200)),
    Rule("ui:study", "GET", "/studies/{slug}/", (LOGIN, 404, 200, 200, 200, 200, 200)),
    Rule("ui:study-audit", "GET", "/studies/{slug}/audit/", (LOGIN, 404, 403, 403, 403, 200, 200)),
    Rule(
        "ui:learning-curves", "GET", "/studies/{slug}/learning-curves/", (LOGIN, 404, 200, 200, 200, 200, 200)
    ),
    Rule("ui:queue", "GET", "/queue/", (LOGIN, 200, 200, 200, 200, 200, 200)),
    Rule("ui:case", "GET", "/cases/{case}/", (LOGIN, 404, 200, 200, 200, 200, 200)),
    Rule("ui:case-history", "GET", "/cases/{case}/history/", (LOGIN, 404, 200, 200, 200, 200, 200)),
    Rule("ui:jobs", "GET", "/jobs/", (LOGIN, 200, 200, 200, 200, 200, 200)),
    Rule("ui:job", "GET", "/jobs/{job}/", (LOGIN, 404, 200, 200, 200, 200, 200)),
    Rule("agreement-page", "GET", "/reports/{slug}/", (LOGIN, 404, 403, 403, 200, 200, 200)),
    Rule("agreement-pdf", "GET", "/reports/{slug}/report.pdf", (LOGIN, 404, 403, 403, 200, 200, 200)),
]

PAGE_PREFIXES = ("/accounts/", "/reports/", "/studies/", "/cases/", "/jobs/", "/queue/")
DRF_METHODS = ("get", "post", "put", "patch", "delete")  # HEAD and OPTIONS follow GET


def _walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Any:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            yield (
                prefix + str(entry.pattern),
                f"{namespace}{entry.name}" if entry.name else "",
                entry.callback,
            )


def _methods(callback: Any) -> list[str] | None:
    """The HTTP methods a REST view answers, or None for plain Django views (one row per route is enough)."""
    if getattr(callback, "actions", None):
        return sorted(method.upper() for method in callback.actions if method in DRF_METHODS)
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is not None and issubclass(view_class, APIView):
        return sorted(m.upper() for m in DRF_METHODS if hasattr(view_class, m))
    return None


def routes() -> list[tuple[str, str, list[str] | None]]:
    found = []
    for route, name, callback in _walk(get_resolver().url_patterns):
        if route.startswith("admin/"):
            continue  # covered as a group by test_the_admin_site_is_for_admins_only
        found.append((route, name, _methods(callback)))
    return found


def test_every_route_and_method_has_a_row_in_the_table():
    rows = {(rule.name, rule.method) for rule in RULES}
    names = {rule.name for rule in RULES}
    missing = []
    for route, name, methods in routes():
        if not name:
            missing.append(f"{route} (unnamed: name it so the table can refer to it)")
        elif methods is None:
            if name not in names:
                missing.append(f"{route} ({name})")
        else:
            missing.extend(f"{route} ({name} {m})" for m in methods if (name, m) not in rows)
    assert not missing, "routes without a row in the permission table:\n" + "\n".join(missing)


def test_every_row_names_a_real_route_and_gives_every_role():
    names = {name for _, name, _ in routes()}
    for rule in RULES:
        assert rule.name in names, f"{rule.id}: no such URL name"
        assert len(rule.expect) == len(ROLES), f"{rule.id}: needs one status per role"


@pytest.fixture
def world(db, tmp_path) -> World:
    return build_world(tmp_path)


def _request(world: World, role: str, rule: Rule) -> Any:
    user = world.user(role)
    path = rule.path.format(**world.ids)
    body = rule.body(world) if rule.body else None
    method = rule.method.lower()
    if rule.name.startswith("ui:") or rule.name.startswith("agreement-p") or path.startswith(PAGE_PREFIXES):
        client: Any = Client()
        if user is not None:
            client.force_login(user)
        return getattr(client, method)(path, body or {})
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {world.keys[role]}")
    if rule.send == "multipart":
        return client.post(path, body, format="multipart")
    if rule.send == "stow":
        data, content_type = body
        return client.generic("POST", path, data, content_type=content_type)
    if body is None:
        return getattr(client, method)(path)
    return getattr(client, method)(path, body, format="json")


@pytest.mark.parametrize("rule", RULES, ids=[rule.id for rule in RULES])
def test_each_role_gets_what_the_table_says(world, rule):
    wrong = []
    for role, expected in zip(ROLES, rule.expect, strict=True):
        cache.clear()
        with transaction.atomic():
            response = _request(world, role, rule)
            transaction.set_rollback(True)
        if response.status_code != expected:
            detail = getattr(response, "content", b"")[:200]
            wrong.append(f"{role}: expected {expected}, got {response.status_code} {detail!r}")
        elif expected == LOGIN and role == "anonymous":
            assert response["Location"].startswith("/accounts/login/")
        if 400 <= response.status_code < 500 and "json" in response.get("Content-Type", ""):
            assert response.json().get("detail"), f"{rule.id} {role}: a 4xx without a message"
    assert not wrong, f"{rule.id} {rule.path}:\n" + "\n".join(wrong)


def test_the_admin_site_is_for_admins_only(world):
    from django.contrib import admin

    urls = ["/admin/"] + [
        f"/admin/{model._meta.app_label}/{model._meta.model_name}/" for model in admin.site._registry
    ]
    for role in ROLES:
        client = Client()
        if world.user(role) is not None:
            client.force_login(world.user(role))
        for url in urls:
            response = client.get(url)
            if role == "admin":
                assert response.status_code == 200, (url, response.status_code)
            else:
                assert response.status_code == 302, (role, url, response.status_code)
                assert response["Location"].startswith("/admin/login/")
