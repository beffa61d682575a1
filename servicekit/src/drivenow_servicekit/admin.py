"""Django admin pieces every DriveNow service uses."""
from __future__ import annotations

from typing import Any

from django.contrib.admin.options import IncorrectLookupParameters
from django.http import HttpRequest


class NulSafeAdmin:
    """A ModelAdmin mixin. PostgreSQL text cannot hold NUL, so a filter value with one (`?status=%00`) or a text
    primary key with one (`/…/a%00/change/`) would crash the page when the query runs. Refused up front instead:
    Django's "bad lookup" redirect, or "no such object"."""

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        if any("\x00" in name or "\x00" in value for name, values in request.GET.lists() for value in values):
            raise IncorrectLookupParameters("NUL character in the query string")
        return super().get_changelist_instance(request)  # type: ignore[misc]

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        if "\x00" in object_id:
            return None
        return super().get_object(request, object_id, from_field)  # type: ignore[misc]
