"""List ordering that pages cleanly and says no to what it cannot do (the `?ordering=` backend of every DriveNow
list), and the base of every list filter."""

from __future__ import annotations

import re
from typing import Any, cast

import django_filters
from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import filters
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.views import APIView

from .fields import parse_rfc3339, parse_uuid

# A query integer: optional '-' and up to 18 digits (whole value, fullmatch), so int() never meets a number too
# long for it to convert (a ValueError, once past Python's digit limit) and every value fits a bigint.
INTEGER_MAX = 10**18 - 1
_INTEGER = re.compile(r"-?[0-9]{1,18}")


class StableOrderingFilter(filters.OrderingFilter):
    """`?ordering=` with the primary key as the last tie-breaker. Sorting by a value many rows share (a null
    `started_at`, a common model or year) leaves PostgreSQL free to order the ties differently for each
    LIMIT/OFFSET, so pages would skip some rows and repeat others.

    A field that cannot be ordered by is a 400 `invalid` (DRF would silently ignore it and the client would page
    through an order it did not ask for); the schema lists the accepted values as a pattern."""

    def _valid_names(self, queryset: QuerySet[Any] | None, view: APIView, request: Request | None) -> list[str]:
        # DRF reads the queryset only for `ordering_fields = "__all__"`, which no DriveNow view uses.
        return [item[0] for item in self.get_valid_fields(queryset, view, {"request": request})]  # type: ignore[arg-type]

    def remove_invalid_fields(  # type: ignore[override]
        self, queryset: QuerySet[Any], fields: list[str], view: APIView, request: Request
    ) -> list[str]:
        valid = set(self._valid_names(queryset, view, request))
        invalid = [term for term in fields if term.removeprefix("-") not in valid]
        if invalid:
            raise ValidationError(
                {
                    self.ordering_param: [
                        f"Cannot order by {', '.join(repr(t) for t in invalid)}; use one of: "
                        f"{', '.join(sorted(valid))} (prefix '-' for descending)."
                    ]
                }
            )
        return fields

    def get_ordering(self, request: Request, queryset: QuerySet, view: APIView) -> list[str]:  # type: ignore[type-arg]
        params = request.query_params.get(self.ordering_param)
        if params:  # as sent: " year" is no field name (DRF would strip it)
            ordering = self.remove_invalid_fields(queryset, params.split(","), view, request)
        else:
            ordering = list(self.get_default_ordering(view) or [])
        if not {"pk", "-pk", "id", "-id"} & set(ordering):
            ordering.append("id")
        return ordering

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        names = sorted(self._valid_names(None, view, None))
        term = "-?(?:" + "|".join(re.escape(name) for name in names) + ")"
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": f"Comma-separated fields to order by, '-' for descending: {', '.join(names)}.",
                "schema": {"type": "string", "pattern": f"^(?:{term}(?:,{term})*)?$"},
            }
        ]


class _IntegerFormField(forms.IntegerField):
    """An integer as a query string spells it: optional '-', digits; not '2020.0' or ' 2020'."""

    def to_python(self, value: Any) -> int | None:
        if value in self.empty_values:
            return None
        if not isinstance(value, str) or not _INTEGER.fullmatch(value):
            raise DjangoValidationError(self.error_messages["invalid"], code="invalid")
        return int(value)


class _UUIDFormField(forms.UUIDField):
    """A UUID in its usual 8-4-4-4-12 form only (the schema's `format: uuid`)."""

    def to_python(self, value: Any) -> Any:
        if value in self.empty_values:
            return None
        parsed = parse_uuid(value) if isinstance(value, str) else None
        if parsed is None:
            raise DjangoValidationError(self.error_messages["invalid"], code="invalid")
        return parsed


class _DateTimeFormField(forms.DateTimeField):
    """An RFC 3339 timestamp with its offset only (the schema's `format: date-time`): not a bare date, not a time
    without its offset, whose zone would be a guess."""

    def to_python(self, value: Any) -> Any:
        if value in self.empty_values:
            return None
        parsed = parse_rfc3339(value)
        if parsed is None:
            raise DjangoValidationError(self.error_messages["invalid"], code="invalid")
        return parsed


@extend_schema_field({"type": "string", "format": "date-time"})
class DateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = _DateTimeFormField


@extend_schema_field({"type": "integer", "minimum": -INTEGER_MAX, "maximum": INTEGER_MAX})
class IntegerFilter(django_filters.NumberFilter):
    field_class = _IntegerFormField


class UUIDFilter(django_filters.UUIDFilter):
    field_class = _UUIDFormField


@extend_schema_field({"type": "string", "pattern": "^[^\\x00]*$"})
class TextFilter(django_filters.CharFilter):
    """A text query value. PostgreSQL text cannot hold NUL, so one is a 400 (Django's form field says so), and
    the schema says it too."""


class FilterSet(django_filters.FilterSet):
    """The base of every DriveNow list filter. django-filter builds a new form class, with a new form field per
    filter, on every request (FilterSet.get_form_class), a visible part of a list's CPU. Our filters' fields
    do not depend on the request, so the class is built once per FilterSet and kept on it; each form instance still
    deep-copies its fields, as every Django form does, so requests share nothing mutable.
    """

    def get_form_class(self) -> type[forms.Form]:
        cls = type(self)
        form_class = cls.__dict__.get("_drivenow_form_class")
        if form_class is None:
            form_class = super().get_form_class()
            cls._drivenow_form_class = form_class  # two threads may both build it: same result, one kept
        return cast(type[forms.Form], form_class)
