"""Login with a rate limit on failures (per username and per client address)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse

from atrium.accounts.ratelimit import hit, peek


def _client_ip(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR", "unknown"))


class RateLimitedLoginView(auth_views.LoginView):
    template_name = "registration/login.html"

    def _keys(self, request: HttpRequest) -> list[str]:
        username = str(request.POST.get("username", "")).strip().lower()[:150]
        return [f"login-ip:{_client_ip(request)}", f"login-user:{username}"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        limit, window = settings.ATRIUM_LOGIN_FAILURE_LIMIT, settings.ATRIUM_LOGIN_WINDOW_S
        if any(peek(key, window_s=window) >= limit for key in self._keys(request)):
            response = self.render_to_response(
                self.get_context_data(
                    form=self.get_form(),
                    rate_limited=f"Too many failed log-ins. Try again in {window // 60} minutes.",
                ),
                status=429,
            )
            response["Retry-After"] = str(window)
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: Any) -> HttpResponse:
        for key in self._keys(self.request):
            hit(key, limit=settings.ATRIUM_LOGIN_FAILURE_LIMIT, window_s=settings.ATRIUM_LOGIN_WINDOW_S)
        return super().form_invalid(form)
