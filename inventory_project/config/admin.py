"""The admin pieces of this service that are not the contract: the site (Django's, plus the fleet's planning board)
and django-axes' login attempts, behind permissions."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, path


class InventoryAdminSite(admin.AdminSite):
    """Django's admin site with the planning board at fleet/board/ (fleet.board), listed first among the fleet's
    pages on the index and in the sidebar for whoever may view cars."""

    def get_urls(self) -> list[URLResolver | URLPattern]:
        board = path("fleet/board/", self.admin_view(self.planning_board), name="fleet_board")
        return [board, *super().get_urls()]

    def planning_board(self, request: HttpRequest) -> HttpResponse:
        from fleet.board import board_view

        return board_view(request, site=self)

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict[str, Any]]:
        from fleet.board import index_entry

        apps = super().get_app_list(request, app_label)
        for app in apps:
            entry = index_entry(request, self) if app["app_label"] == "fleet" else None
            if entry is not None:
                app["models"].insert(0, entry)
        return apps


def axes_admin_declare_permissions() -> None:
    """django-axes' "Clean up expired attempts" action declares no permission, so any staff account that may view
    the login attempts may run it, and it deletes rows. Its admin is registered again with the action needing the
    delete permission. Called from one admin module of each service (axes' own admin is registered by then: axes
    comes first in INSTALLED_APPS)."""
    from axes.admin import AccessAttemptAdmin
    from axes.models import AccessAttempt

    class AccessAttemptAdminWithPermissions(AccessAttemptAdmin):  # type: ignore[misc]
        @admin.action(description="Clean up expired attempts", permissions=["delete"])
        def cleanup_expired_attempts(self, request: HttpRequest, queryset: Any) -> None:
            super().cleanup_expired_attempts(request, queryset)

    if admin.site.is_registered(AccessAttempt):
        admin.site.unregister(AccessAttempt)
        admin.site.register(AccessAttempt, AccessAttemptAdminWithPermissions)
