"""HTTP plumbing shared by the frame API, uploads and DICOMweb: authentication, errors, caching."""

from __future__ import annotations

import hashlib
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.authentication import BasicAuthentication
from rest_framework.exceptions import APIException
from rest_framework.parsers import BaseParser, DataAndFiles, FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.settings import api_settings

# Arrays in the pixel store never change under a key, so a response may be cached for a year.
IMMUTABLE_CACHE = "private, max-age=31536000, immutable"


class ApiError(Exception):
    """An error answered as {"detail": ..., "errors": ...} with a 4xx status."""

    def __init__(self, status: int, detail: str, errors: Any = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors


def error_response(status: int, detail: str, errors: Any = None) -> JsonResponse:
    body: dict[str, Any] = {"detail": detail}
    if errors is not None:
        body["errors"] = errors
    response = JsonResponse(body, status=status)
    if status == 401:
        response["WWW-Authenticate"] = "Token"  # as the REST API answers; DICOMweb offers Basic instead
    return response


class _UnparsedBody(BaseParser):
    """Leaves bodies other than forms unread (STOW-RS streams them itself)."""

    media_type = "*/*"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> DataAndFiles:
        return DataAndFiles({}, {})


def authenticate(request: HttpRequest, *, basic: bool = False) -> Any:
    """The user, through the API's authentication classes (session; HTTP Basic too for DICOMweb clients).

    Uses DRF's authenticators without its view machinery, so binary responses skip content negotiation.
    Unsafe methods with a session must carry the CSRF token, as in the rest of the API.
    """
    if request.method in ("GET", "HEAD") and "HTTP_AUTHORIZATION" not in request.META:
        # Without an Authorization header only the session can authenticate, and a safe method needs no
        # CSRF check: the session user is what DRF would find, without building its Request per frame.
        session_user = getattr(request, "user", None)
        if session_user is not None and session_user.is_authenticated and session_user.is_active:
            return session_user
    authenticators = [cls() for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES]  # type: ignore[operator]
    if basic:
        authenticators.append(BasicAuthentication())
    try:
        parsers = [MultiPartParser(), FormParser(), _UnparsedBody()]
        return Request(request, parsers=parsers, authenticators=authenticators).user
    except APIException as exc:
        raise ApiError(exc.status_code, str(exc.detail)) from None


def require_user(request: HttpRequest, *, basic: bool = False) -> Any:
    user = authenticate(request, basic=basic)
    if user is None or isinstance(user, AnonymousUser) or not user.is_authenticated:
        raise ApiError(401, "authentication credentials were not provided")
    return user


def make_etag(*parts: object) -> str:
    digest = hashlib.blake2b("\x00".join(map(str, parts)).encode(), digest_size=12).hexdigest()
    return f'"{digest}"'


def matches_etag(request: HttpRequest, etag: str) -> bool:
    header = request.headers.get("If-None-Match", "")
    return bool(header) and (
        header.strip() == "*" or etag in [tag.strip().removeprefix("W/") for tag in header.split(",")]
    )


def not_modified(etag: str) -> HttpResponse:
    response = HttpResponse(status=304)
    response["ETag"] = etag
    response["Cache-Control"] = IMMUTABLE_CACHE
    return response


def cached_bytes(
    content: bytes, content_type: str, etag: str, headers: dict[str, str] | None = None
) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["ETag"] = etag
    response["Cache-Control"] = IMMUTABLE_CACHE
    response["Content-Length"] = str(len(content))
    for name, value in (headers or {}).items():
        response[name] = value
    return response
