"""Who is calling and how often: the client address behind the gateway, API throttles, admin login lockout
answers, and the Content-Security-Policy header.

Throttles (DRF, rates from the environment — see config/settings/base.py): anonymous callers per client address
(`DJANGO_THROTTLE_ANON`), authenticated accounts per user (`DJANGO_THROTTLE_USER`), and service accounts — the
booking service's account in inventory — in a scope of their own (`DJANGO_THROTTLE_SERVICE`, unthrottled by
default: one account carries every rental of every booking instance, and throttling it would fail rentals).
Counters live in the `throttle` cache: a per-process LocMemCache, so the effective limit is the rate times the
number of processes (gunicorn workers × instances) — set the rates per process.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from rest_framework import throttling

from drivenow_contracts import ErrorCode

if TYPE_CHECKING:  # DRF imports the throttles while rest_framework.views is still loading
    from rest_framework.request import Request
    from rest_framework.views import APIView

THROTTLE_CACHE = "throttle"


def client_ip(request: HttpRequest) -> str:
    """The caller's address: the entry the nearest `DJANGO_NUM_PROXIES` trusted proxies (the gateway) appended
    to X-Forwarded-For, else REMOTE_ADDR. The same rule DRF's throttles use, for admin login lockouts."""
    remote = str(request.META.get("REMOTE_ADDR") or "")
    proxies = int(getattr(settings, "REST_FRAMEWORK", {}).get("NUM_PROXIES") or 0)
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR") or "")
    if proxies <= 0 or not forwarded:
        return remote
    addresses = [part.strip() for part in forwarded.split(",") if part.strip()]
    chosen = addresses[-min(proxies, len(addresses))] if addresses else remote
    # A trusted proxy appends a real address; anything else came from the client itself (the service reached
    # directly) and would crash the lockout's `inet` column: the peer's address is the honest answer then.
    try:
        ipaddress.ip_address(chosen)
    except ValueError:
        return remote
    return chosen


def is_service_account(user: Any) -> bool:
    """A machine account: not staff, holding one of settings.DRIVENOW_SERVICE_PERMISSIONS."""
    permissions = getattr(settings, "DRIVENOW_SERVICE_PERMISSIONS", [])
    if not permissions or not getattr(user, "is_authenticated", False) or user.is_staff or user.is_superuser:
        return False
    return any(user.has_perm(permission) for permission in permissions)


class _ThrottleCacheMixin:
    """The `throttle` cache, and the rates as the settings say now (DRF reads them once, at import)."""

    scope: str

    @property
    def cache(self) -> Any:
        return caches[THROTTLE_CACHE]

    def get_rate(self) -> str | None:
        from rest_framework.settings import api_settings

        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class AnonRateThrottle(_ThrottleCacheMixin, throttling.AnonRateThrottle):
    """Anonymous callers, per client address (`anon` rate)."""


class UserRateThrottle(_ThrottleCacheMixin, throttling.UserRateThrottle):
    """Authenticated people, per account (`user` rate); service accounts have their own scope."""

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if is_service_account(request.user):
            return None
        return super().get_cache_key(request, view)


class ServiceRateThrottle(_ThrottleCacheMixin, throttling.SimpleRateThrottle):
    """Service accounts, per account (`service` rate; none by default)."""

    scope = "service"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if not is_service_account(request.user):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


def admin_lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """django-axes' answer once a username has failed too often from one address: a 429 problem, not a page."""
    from drivenow_contracts.server.errors import problem_response

    cool_off: timedelta | None = getattr(settings, "AXES_COOLOFF_TIME", None)
    seconds = int(cool_off.total_seconds()) if cool_off else 3600
    response = problem_response(
        request,
        429,
        ErrorCode.THROTTLED,
        f"Too many failed logins for this account from this address; try again in {max(1, seconds // 60)} minutes.",
    )
    response["Retry-After"] = str(seconds)
    return response


# Pages (admin, docs, browsable API) load their own scripts and styles only; JSON is never framed or executed.
CSP_HTML = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
CSP_API = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


class ContentSecurityPolicyMiddleware:
    """Adds Content-Security-Policy (production settings only): a strict policy for API answers, one that lets
    the admin, Swagger UI and ReDoc run their own (inline) scripts for HTML pages — no third-party origin either way."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            html = response.get("Content-Type", "").startswith("text/html")
            response["Content-Security-Policy"] = CSP_HTML if html else CSP_API
        return response
