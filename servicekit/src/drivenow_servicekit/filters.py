"""List ordering that pages cleanly: the default `?ordering=` backend of every DriveNow list."""
from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import filters
from rest_framework.request import Request
from rest_framework.views import APIView


class StableOrderingFilter(filters.OrderingFilter):
    """`?ordering=` with the primary key as the last tie-breaker. Sorting by a value many rows share (a null
    `started_at`, a common model or year) leaves PostgreSQL free to order the ties differently for each
    LIMIT/OFFSET, so pages would skip some rows and repeat others."""

    def get_ordering(self, request: Request, queryset: QuerySet, view: APIView) -> list[str]:  # type: ignore[type-arg]
        ordering = list(super().get_ordering(request, queryset, view) or [])
        if not {"pk", "-pk", "id", "-id"} & set(ordering):
            ordering.append("id")
        return ordering
