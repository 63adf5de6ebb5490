"""REST permission classes by platform role."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission


class IsMLEngineer(BasePermission):
    message = "only ML engineers and admins may do this"

    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.can_manage_models())


class IsStudyLead(BasePermission):
    message = "only study leads and admins may do this"

    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.can_lead_studies())


class ReadOnlyOrMLEngineer(BasePermission):
    message = "only ML engineers and admins may change this"

    def has_permission(self, request: Any, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or request.user.can_manage_models()
