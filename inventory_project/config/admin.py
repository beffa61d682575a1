"""The admin pieces of this service that are not the contract: django-axes' login attempts, behind permissions."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def axes_admin_declare_permissions() -> None:
    """django-axes' "Clean up expired attempts" action declares no permission, so any staff account that may view
    the login attempts may run it, and it deletes rows. Its admin is registered again with the action needing the
    delete permission. Called from one admin module of each service (axes' own admin is registered by then: axes
    comes first in INSTALLED_APPS)."""
    from axes.admin import AccessAttemptAdmin
    from axes.models import AccessAttempt
    from django.contrib import admin

    class AccessAttemptAdminWithPermissions(AccessAttemptAdmin):  # type: ignore[misc]
        @admin.action(description="Clean up expired attempts", permissions=["delete"])
        def cleanup_expired_attempts(self, request: HttpRequest, queryset: Any) -> None:
            super().cleanup_expired_attempts(request, queryset)

    if admin.site.is_registered(AccessAttempt):
        admin.site.unregister(AccessAttempt)
        admin.site.register(AccessAttempt, AccessAttemptAdminWithPermissions)
