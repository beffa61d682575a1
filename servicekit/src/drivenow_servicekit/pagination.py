"""Lists page with ?limit=&offset= (API.md); the limit is capped so no client can ask for the whole fleet.

A value that is no count (`limit=abc`, `limit=0`, `offset=-1`, `limit=1.5`) is a 400 `invalid` naming the
parameter, like any other query value we do not understand; a limit above the cap is served at the cap.

The page and the total come from one statement (`COUNT(*) OVER ()` beside each row): one round trip, one query
to build, and a count that always agrees with its page. Only a page past the end, which carries no rows to read
the total from, costs a second query.
"""
from __future__ import annotations

import re
from typing import Any

from django.db.models import Count, QuerySet, Window
from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

_DIGITS = re.compile(r"^[0-9]{1,18}$")


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    default_limit = 20
    max_limit = 200

    def _count_param(self, request: Request, name: str, *, minimum: int) -> int | None:
        raw = request.query_params.get(name)
        if raw is None or raw == "":
            return None
        if not _DIGITS.match(raw) or int(raw) < minimum:
            raise ValidationError({name: [f"A whole number of at least {minimum} is required."]})
        return int(raw)

    def get_limit(self, request: Request) -> int:
        limit = self._count_param(request, self.limit_query_param, minimum=1)
        return self.default_limit if limit is None else min(limit, self.max_limit)

    def get_offset(self, request: Request) -> int:
        return self._count_param(request, self.offset_query_param, minimum=0) or 0

    def paginate_queryset(self, queryset: QuerySet | list[Any], request: Request, view: Any = None) -> list[Any]:  # type: ignore[type-arg]
        if not isinstance(queryset, QuerySet):
            return super().paginate_queryset(queryset, request, view)  # type: ignore[no-any-return]
        self.request = request
        self.limit = self.get_limit(request)
        self.offset = self.get_offset(request)
        page = list(queryset.annotate(_page_total=Window(Count("*")))[self.offset : self.offset + self.limit])
        if page:
            self.count = page[0]._page_total
        else:
            self.count = queryset.count() if self.offset else 0
        return page

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.limit_query_param,
                "required": False,
                "in": "query",
                "description": f"Results per page: 1 or more (default {self.default_limit}; more than "
                f"{self.max_limit} is served as {self.max_limit}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": 10**18 - 1},
            },
            {
                "name": self.offset_query_param,
                "required": False,
                "in": "query",
                "description": "Index of the first result (0 or more).",
                "schema": {"type": "integer", "minimum": 0, "maximum": 10**18 - 1},
            },
        ]
