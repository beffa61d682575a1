"""Lists page with ?limit=&offset= (API.md); the limit is capped so no client can ask for the whole fleet.

A value that is no count (`limit=abc`, `limit=0`, `offset=-1`, `limit=1.5`) is a 400 `invalid` naming the
parameter, like any other query value we do not understand; a limit above the cap is served at the cap.
"""

from __future__ import annotations

import re
from typing import Any

from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

_DIGITS = re.compile(r"[0-9]{1,18}")  # fullmatch: `$` would let "20\n" through


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    default_limit = 20
    max_limit = 200

    def _count_param(self, request: Request, name: str, *, minimum: int) -> int | None:
        raw = request.query_params.get(name)
        if raw is None or raw == "":
            return None
        if not _DIGITS.fullmatch(raw) or int(raw) < minimum:
            raise ValidationError({name: [f"A whole number of at least {minimum} is required."]})
        return int(raw)

    def get_limit(self, request: Request) -> int:
        limit = self._count_param(request, self.limit_query_param, minimum=1)
        return self.default_limit if limit is None else min(limit, self.max_limit)

    def get_offset(self, request: Request) -> int:
        return self._count_param(request, self.offset_query_param, minimum=0) or 0

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
