"""One error shape for the REST API: {"detail": "...", "errors": {...}} with a 4xx, never a bare 500."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class Conflict(Exception):
    """A write based on a stale version: the client must reload and merge."""

    def __init__(self, detail: str, current: Any = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.current = current


def _first_message(errors: Any) -> str:
    if isinstance(errors, dict):
        for key, value in errors.items():
            message = _first_message(value)
            return message if key in {"non_field_errors", "detail"} else f"{key}: {message}"
    if isinstance(errors, list) and errors:
        return _first_message(errors[0])
    return str(errors)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, Conflict):
        return Response({"detail": exc.detail, "current": exc.current}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, RecursionError):
        # json's decoder recurses per nesting level: a body like [[[[...]]]] is the client's error.
        return Response(
            {"detail": "JSON parse error - the request body is nested too deeply"},
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, DjangoValidationError):
        exc = ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ValidationError) and isinstance(response.data, (dict, list)):
        errors = response.data
        response.data = {"detail": _first_message(errors), "errors": errors}
    return response
