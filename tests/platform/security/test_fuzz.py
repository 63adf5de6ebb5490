"""Bad input against the real endpoints: every malformed upload or payload gets a 4xx whose message names
the problem, and nothing is half-stored. Then schemathesis generates requests from the OpenAPI schema
(/api/schema/) and sends them through the WSGI app: no request may get a 5xx."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pydicom
import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from rest_framework.test import APIClient

from tests.platform.security.world import SQUARE, World, build_world


@pytest.fixture
def world(db, tmp_path) -> World:
    cache.clear()
    return build_world(tmp_path)


@dataclass(frozen=True)
class Bad:
    id: str
    role: str
    method: str
    path: str
    body: Callable[[World], Any] | None
    status: int | tuple[int, ...]
    message: str  # a fragment the error message must contain (case-insensitive)
    send: str = "json"  # json | raw-json | multipart | stow | none


def contour(**changes: Any) -> Callable[[World], Any]:
    data = {"structure": "lv_endo", "slice": 0, "phase": 0, "points": SQUARE, **changes}
    return lambda w: {"kind": "contour", "data": data}


def edit(version: Any, **changes: Any) -> Callable[[World], Any]:
    data = {"structure": "lv_endo", "slice": 0, "phase": 0, "points": SQUARE, **changes}
    return lambda w: {"data": data, "version": version}


def dicom(world: World) -> bytes:
    return world.dicom_files[0][1]


def pixel_less(world: World) -> bytes:
    ds = pydicom.dcmread(io.BytesIO(dicom(world)))
    del ds.PixelData
    out = io.BytesIO()
    ds.save_as(out)
    return out.getvalue()


def zipped(members: dict[str, bytes]) -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def files(*pairs: tuple[str, Callable[[World], bytes]]) -> Callable[[World], Any]:
    return lambda w: {f"f{i}": SimpleUploadedFile(name, make(w)) for i, (name, make) in enumerate(pairs)}


def stow(
    parts: Callable[[World], list[bytes]], part_type: str = "application/dicom"
) -> Callable[[World], Any]:
    def make(world: World) -> tuple[bytes, str]:
        from atrium.imaging.multipart_related import build_multipart

        return build_multipart(parts(world), part_type)

    return make


def raw(body: bytes, content_type: str) -> Callable[[World], Any]:
    return lambda w: (body, content_type)


ANN = "/api/cases/{case}/annotations/"
ONE = "/api/annotations/{annotation}/"
UP = "/api/studies/matrix/uploads/"
STOW = "/dicomweb/studies?study=matrix"
INST = "/dicomweb/studies/{study_uid}/series/{series_uid}/instances/{instance_uid}"
NESTED = ("[" * 100_000 + "]" * 100_000).encode()
MANY_POINTS = [[1.0, 1.0]] * 1_000_000

CASES: list[Bad] = [
    # --- annotation payloads
    Bad(
        "json-syntax",
        "annotator",
        "POST",
        ANN,
        lambda w: b'{"kind": "contour", "data": {',
        400,
        "JSON parse error",
        "raw-json",
    ),
    Bad(
        "json-not-utf8",
        "annotator",
        "POST",
        ANN,
        lambda w: b'{"kind": "\xff\xfe"}',
        400,
        "JSON parse error",
        "raw-json",
    ),
    Bad("json-nested-deep", "annotator", "POST", ANN, lambda w: NESTED, 400, "nested too deeply", "raw-json"),
    Bad(
        "json-nan",
        "annotator",
        "POST",
        ANN,
        lambda w: b'{"kind":"contour","data":{"points":[[NaN,1]]}}',
        400,
        "not JSON compliant",
        "raw-json",
    ),
    Bad(
        "json-infinity",
        "annotator",
        "POST",
        ANN,
        lambda w: b'{"kind":"contour","data":{"slice":Infinity}}',
        400,
        "not JSON compliant",
        "raw-json",
    ),
    Bad("body-is-a-list", "annotator", "POST", ANN, lambda w: [1, 2], 400, "expected a dictionary"),
    Bad("kind-missing", "annotator", "POST", ANN, lambda w: {"data": {}}, 400, "kind"),
    Bad("kind-unknown", "annotator", "POST", ANN, lambda w: {"kind": "polygon", "data": {}}, 400, "polygon"),
    Bad(
        "kind-wrong-type", "annotator", "POST", ANN, lambda w: {"kind": ["contour"], "data": {}}, 400, "kind"
    ),
    Bad(
        "data-a-string",
        "annotator",
        "POST",
        ANN,
        lambda w: {"kind": "contour", "data": "points"},
        400,
        "data must be a JSON object",
    ),
    Bad(
        "structure-unknown",
        "annotator",
        "POST",
        ANN,
        contour(structure="aorta"),
        400,
        "structure must be one of",
    ),
    Bad(
        "structure-huge",
        "annotator",
        "POST",
        ANN,
        contour(structure="x" * 200_000),
        400,
        "structure must be one of",
    ),
    Bad("mode-unknown", "annotator", "POST", ANN, contour(mode="laser"), 400, "mode must be one of"),
    Bad(
        "points-a-million", "annotator", "POST", ANN, contour(points=MANY_POINTS), 400, "at most 4000 points"
    ),
    Bad("points-two", "annotator", "POST", ANN, contour(points=SQUARE[:2]), 400, "at least 3 points"),
    Bad(
        "points-not-a-list", "annotator", "POST", ANN, contour(points={"x": 1}), 400, "points must be a list"
    ),
    Bad(
        "point-a-triple",
        "annotator",
        "POST",
        ANN,
        contour(points=[[1, 1, 1], [2, 2], [3, 1]]),
        400,
        "[x, y] pair",
    ),
    Bad(
        "point-strings",
        "annotator",
        "POST",
        ANN,
        contour(points=[["1", "2"], [2, 2], [3, 1]]),
        400,
        "two finite numbers",
    ),
    Bad(
        "point-boolean",
        "annotator",
        "POST",
        ANN,
        contour(points=[[True, 2], [2, 2], [3, 1]]),
        400,
        "two finite numbers",
    ),
    Bad("point-huge", "annotator", "POST", ANN, contour(points=[[1e308, 2], [2, 2], [3, 1]]), 400, "outside"),
    Bad(
        "point-outside",
        "annotator",
        "POST",
        ANN,
        contour(points=[[-50, 2], [2, 2], [3, 1]]),
        400,
        "outside the 12x12 image",
    ),
    Bad("slice-out-of-range", "annotator", "POST", ANN, contour(slice=99), 400, "slice=99 is outside"),
    Bad("slice-boolean", "annotator", "POST", ANN, contour(slice=True), 400, "slice must be an integer"),
    Bad("phase-negative", "annotator", "POST", ANN, contour(phase=-1), 400, "phase=-1 is outside"),
    Bad("phase-float", "annotator", "POST", ANN, contour(phase=1.5), 400, "phase must be an integer"),
    Bad(
        "plane-on-a-cine",
        "annotator",
        "POST",
        ANN,
        lambda w: {"kind": "plane_label", "data": {"plane": "x"}},
        400,
        "ultrasound clip",
    ),
    Bad(
        "case-unknown",
        "annotator",
        "POST",
        "/api/cases/987654/annotations/",
        contour(),
        404,
        "case 987654 does not exist",
    ),
    Bad(
        "case-id-huge",
        "annotator",
        "GET",
        "/api/cases/99999999999999999999/annotations/",
        None,
        404,
        "does not exist",
    ),
    # --- edits and deletes
    Bad("version-a-string", "annotator", "PUT", ONE, edit("abc"), 400, "version"),
    Bad("version-zero", "annotator", "PUT", ONE, edit(0), 400, "version"),
    Bad("version-negative", "annotator", "PUT", ONE, edit(-3), 400, "version"),
    Bad("version-stale", "annotator", "PUT", ONE, edit(7), 409, "based on version 7"),
    Bad("version-enormous", "annotator", "PUT", ONE, edit(10**40), (400, 409), "version"),
    Bad("version-missing", "annotator", "PUT", ONE, lambda w: {"data": {}}, 400, "version"),
    Bad("edit-bad-points", "annotator", "PUT", ONE, edit(1, points="none"), 400, "points must be a list"),
    Bad("delete-version-text", "annotator", "DELETE", ONE + "?version=one", None, 400, "?version=N"),
    Bad("delete-no-version", "annotator", "DELETE", ONE, None, 400, "?version=N"),
    Bad(
        "annotation-unknown",
        "annotator",
        "GET",
        "/api/annotations/555555/",
        None,
        404,
        "no annotation matches",
    ),
    Bad(
        "phases-text",
        "annotator",
        "PATCH",
        "/api/cases/{case}/phases/",
        lambda w: {"ed_phase": "x"},
        400,
        "ed_phase",
    ),
    Bad(
        "phases-out-of-range",
        "annotator",
        "PATCH",
        "/api/cases/{case}/phases/",
        lambda w: {"es_phase": 99},
        400,
        "es_phase=99 is outside",
    ),
    # --- jobs, tokens, members, audit
    Bad(
        "job-kind-ingest",
        "ml_engineer",
        "POST",
        "/api/jobs/",
        lambda w: {"kind": "ingest", "study": "matrix"},
        400,
        "kind",
    ),
    Bad(
        "job-study-unknown",
        "ml_engineer",
        "POST",
        "/api/jobs/",
        lambda w: {"kind": "train", "study": "nope"},
        404,
        "'nope' does not exist",
    ),
    Bad(
        "job-params-a-list",
        "ml_engineer",
        "POST",
        "/api/jobs/",
        lambda w: {"kind": "train", "study": "matrix", "params": [1]},
        400,
        "params",
    ),
    Bad("job-unknown", "ml_engineer", "POST", "/api/jobs/424242/cancel/", None, 404, "no job matches"),
    Bad(
        "model-unknown",
        "ml_engineer",
        "POST",
        "/api/models/424242/promote/",
        None,
        404,
        "no modelversion matches",
    ),
    Bad("token-name-empty", "annotator", "POST", "/api/tokens/", lambda w: {"name": ""}, 400, "name"),
    Bad(
        "token-name-huge",
        "annotator",
        "POST",
        "/api/tokens/",
        lambda w: {"name": "n" * 5000},
        400,
        "no more than 100",
    ),
    Bad("token-name-object", "annotator", "POST", "/api/tokens/", lambda w: {"name": {"a": 1}}, 400, "name"),
    Bad("token-bad-header", "anonymous", "GET", "/api/me/", None, 401, "Token <key>", "bad-token-header"),
    Bad("token-unknown", "anonymous", "GET", "/api/me/", None, 401, "unknown or revoked", "unknown-token"),
    Bad(
        "member-unknown-user",
        "study_lead",
        "POST",
        "/api/studies/matrix/members/",
        lambda w: {"username": "ghost", "role": "annotator"},
        400,
        "no active user 'ghost'",
    ),
    Bad(
        "member-role-admin",
        "study_lead",
        "POST",
        "/api/studies/matrix/members/",
        lambda w: {"username": "m-eve", "role": "admin"},
        400,
        "role",
    ),
    Bad(
        "audit-since-garbage",
        "study_lead",
        "GET",
        "/api/studies/matrix/audit/?since=last-week",
        None,
        400,
        "since must be a date",
    ),
    Bad(
        "audit-until-before-since",
        "study_lead",
        "GET",
        "/api/studies/matrix/audit/?since=2026-02-02&until=2026-01-01",
        None,
        400,
        "before since",
    ),
    Bad(
        "export-kind-unknown",
        "study_lead",
        "GET",
        "/api/studies/matrix/exports/hologram/",
        None,
        404,
        "unknown export 'hologram'",
    ),
    Bad(
        "queue-study-unknown",
        "annotator",
        "GET",
        "/api/queue/next/?study=nope",
        None,
        404,
        "'nope' does not exist",
    ),
    # --- the frame API
    Bad(
        "frame-format",
        "annotator",
        "GET",
        "/api/series/{series}/frames/0/?format=gif",
        None,
        400,
        "format must be",
    ),
    Bad(
        "frame-window-text",
        "annotator",
        "GET",
        "/api/series/{series}/frames/0/?format=png&ww=abc",
        None,
        400,
        "ww must be a number",
    ),
    Bad(
        "frame-range-reversed",
        "annotator",
        "GET",
        "/api/series/{series}/frames/?start=5&stop=1",
        None,
        400,
        "start < stop",
    ),
    Bad("frame-index-out-of-range", "annotator", "GET", "/api/series/{series}/frames/999/", None, 404, "999"),
    Bad("series-unknown", "annotator", "GET", "/api/series/777777/", None, 404, "series 777777 not found"),
    # --- uploads
    Bad(
        "upload-no-files", "study_lead", "POST", UP, lambda w: {}, 400, "no files in the upload", "multipart"
    ),
    Bad(
        "upload-truncated-dicom",
        "study_lead",
        "POST",
        UP,
        files(("cut.dcm", lambda w: dicom(w)[:400])),
        400,
        "cut.dcm",
        "multipart",
    ),
    Bad(
        "upload-garbage",
        "study_lead",
        "POST",
        UP,
        files(("noise.dcm", lambda w: bytes(range(256)) * 8)),
        400,
        "noise.dcm",
        "multipart",
    ),
    Bad(
        "upload-empty-file",
        "study_lead",
        "POST",
        UP,
        files(("empty.dcm", lambda w: b"")),
        400,
        "empty.dcm",
        "multipart",
    ),
    Bad(
        "upload-pixel-less-dicom",
        "study_lead",
        "POST",
        UP,
        files(("nopix.dcm", pixel_less)),
        400,
        "nopix.dcm",
        "multipart",
    ),
    Bad(
        "upload-text-file",
        "study_lead",
        "POST",
        UP,
        files(("readme.txt", lambda w: b"hello")),
        400,
        "readme.txt",
        "multipart",
    ),
    Bad(
        "upload-not-a-zip",
        "study_lead",
        "POST",
        UP,
        files(("data.zip", lambda w: b"PK\x03\x04broken")),
        400,
        "not a valid zip",
        "multipart",
    ),
    Bad(
        "upload-zip-traversal",
        "study_lead",
        "POST",
        UP,
        files(("evil.zip", lambda w: zipped({"../../etc/evil.dcm": b"junk"}))),
        400,
        "evil.dcm",
        "multipart",
    ),
    Bad(
        "upload-one-bad-in-many",
        "study_lead",
        "POST",
        UP,
        files(("good.dcm", dicom), ("bad.dcm", lambda w: b"DICM")),
        400,
        "bad.dcm",
        "multipart",
    ),
    Bad("upload-json-body", "study_lead", "POST", UP, lambda w: {"file": "x"}, 400, "multipart", "json"),
    Bad(
        "upload-study-unknown",
        "study_lead",
        "POST",
        "/api/studies/nope/uploads/",
        lambda w: {},
        404,
        "'nope' not found",
        "multipart",
    ),
    # --- STOW-RS
    Bad(
        "stow-not-multipart",
        "study_lead",
        "POST",
        STOW,
        raw(b"\0" * 10, "application/dicom"),
        415,
        "multipart/related",
        "stow",
    ),
    Bad(
        "stow-no-boundary",
        "study_lead",
        "POST",
        STOW,
        raw(b"x", "multipart/related"),
        415,
        "boundary",
        "stow",
    ),
    Bad(
        "stow-json-parts",
        "study_lead",
        "POST",
        STOW,
        stow(lambda w: [b"{}"], "application/json"),
        415,
        "application/json",
        "stow",
    ),
    Bad(
        "stow-no-study",
        "study_lead",
        "POST",
        "/dicomweb/studies",
        stow(lambda w: [dicom(w)]),
        400,
        "name the reading study",
        "stow",
    ),
    Bad(
        "stow-garbage-part",
        "study_lead",
        "POST",
        STOW,
        stow(lambda w: [b"garbage" * 50]),
        400,
        "part 1",
        "stow",
    ),
    Bad(
        "stow-truncated-body",
        "study_lead",
        "POST",
        STOW,
        raw(
            b"--b\r\nContent-Type: application/dicom\r\n\r\nDI",
            'multipart/related; type="application/dicom"; boundary=b',
        ),
        400,
        "",
        "stow",
    ),
    # --- DICOMweb reads
    Bad(
        "wado-frame-list-text",
        "annotator",
        "GET",
        INST + "/frames/one",
        None,
        400,
        "comma-separated integers",
    ),
    Bad("wado-frame-zero", "annotator", "GET", INST + "/frames/0", None, 404, "out of range"),
    Bad("wado-unknown-study", "annotator", "GET", "/dicomweb/studies/1.2.3/metadata", None, 404, "1.2.3"),
]


def _send(world: World, bad: Bad) -> Any:
    client = APIClient()
    if bad.role != "anonymous":
        client.credentials(HTTP_AUTHORIZATION=f"Token {world.keys[bad.role]}")
    elif bad.send == "bad-token-header":
        client.credentials(HTTP_AUTHORIZATION="Token two parts")
    elif bad.send == "unknown-token":
        client.credentials(HTTP_AUTHORIZATION="Token atr_not-a-real-key")
    path = bad.path.format(**world.ids)
    body = bad.body(world) if bad.body else None
    if bad.send == "raw-json":
        return client.generic(bad.method, path, body, content_type="application/json")
    if bad.send == "multipart":
        return client.post(path, body, format="multipart")
    if bad.send == "stow":
        data, content_type = body
        return client.generic("POST", path, data, content_type=content_type)
    if body is None:
        return getattr(client, bad.method.lower())(path)
    return getattr(client, bad.method.lower())(path, body, format="json")


def test_there_are_at_least_fifty_distinct_bad_inputs():
    assert len(CASES) >= 50 and len({bad.id for bad in CASES}) == len(CASES)


@pytest.mark.parametrize("bad", CASES, ids=[bad.id for bad in CASES])
def test_bad_input_gets_a_4xx_that_names_the_problem(world, bad):
    from atrium.annotations.models import Annotation
    from atrium.imaging.models import Series

    before = (Series.objects.count(), Annotation.objects.count())
    response = _send(world, bad)
    expected = bad.status if isinstance(bad.status, tuple) else (bad.status,)
    assert response.status_code in expected, (response.status_code, response.content[:300])
    body = response.json()
    message = json.dumps(body)
    assert body.get("detail"), f"no detail message: {message[:300]}"
    assert bad.message.lower() in message.lower(), message[:500]
    assert len(str(body["detail"])) < 2000 or bad.id == "structure-huge", "a message should stay readable"
    assert (Series.objects.count(), Annotation.objects.count()) == before, "bad input stored something"


# --- schemathesis: generated requests from the OpenAPI schema, through the WSGI app -----------------


def test_generated_requests_from_the_openapi_schema_never_get_a_5xx(world):
    """Every operation in /api/schema/, with requests schemathesis generates from its parameters and bodies
    (valid and invalid), authenticated as an admin for reads and as the study lead for writes."""
    schemathesis = pytest.importorskip("schemathesis")
    from django.core.wsgi import get_wsgi_application
    from hypothesis import HealthCheck, given, settings

    # As Django's test client does: the WSGI handler must not close the test's database connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        _fuzz_schema(world, schemathesis, get_wsgi_application(), given, settings, HealthCheck)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _fuzz_schema(
    world: World, schemathesis: Any, app: Any, given: Any, settings: Any, HealthCheck: Any
) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in ("/api/schema/", "/api/docs/"):
            continue
        operations += 1
        role = "admin" if operation.method.upper() == "GET" else "study_lead"
        known = _known_path_parameters(world, operation.path)
        names = {parameter.name for parameter in operation.iter_parameters() if parameter.location == "path"}
        fixed = {name: value for name, value in known.items() if name in names}
        strategy = operation.as_strategy(
            schemathesis.GenerationMode.POSITIVE, path_parameters=fixed
        ) | operation.as_strategy(schemathesis.GenerationMode.NEGATIVE, path_parameters=fixed)

        @given(case=strategy)
        @settings(
            max_examples=12,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            cache.clear()
            response = case.call(headers={"Authorization": f"Token {world.keys[role]}"})  # noqa: B023 - run() is called in this iteration
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}")
            elif response.status_code >= 400 and "json" in response.headers.get("Content-Type", ""):
                body = response.json()
                if isinstance(body, dict) and not body.get("detail"):
                    failures.append(f"{case.method} {case.formatted_path}: 4xx without a message: {body}")

        run()
    assert operations >= 30, f"the schema lists only {operations} operations"
    assert not failures, "\n".join(sorted(set(failures))[:40])


def _known_path_parameters(world: World, path: str) -> dict[str, Any]:
    """Real ids of the world's objects, so generated requests reach past the 404 into the view's checks."""
    ids = world.ids
    by_collection = {"/api/cases/": ids["case"], "/api/jobs/": ids["job"], "/api/models/": ids["model_v2"]}
    known: dict[str, Any] = {
        "slug": ids["slug"],
        "case_id": ids["case"],
        "annotation_id": ids["annotation"],
        "series_id": ids["series"],
        "token_id": ids["token"],
        "user_id": ids["member"],
    }
    for prefix, value in by_collection.items():
        if path.startswith(prefix):
            known["id"] = value
    return known
