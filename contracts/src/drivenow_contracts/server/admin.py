"""The contract in the Django admin: what the API refuses, the admin refuses too (field rules, NUL-free text)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import FieldDoesNotExist
from django.http import HttpRequest
from rest_framework import serializers


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


class ApiRulesForm(forms.ModelForm):  # type: ignore[type-arg]
    """An admin form held to the API's rules: each of its fields that the API serializer (`api_serializer`) also
    has is checked and cleaned by that serializer field — and its `validate_<name>` — on the value as typed, so a
    plate, a name or a year the API refuses is refused here with the same message, and what is stored is what the
    API would store. Django's own cleaning runs first (required, choices, lengths, NUL)."""

    api_serializer: type[serializers.Serializer]  # type: ignore[type-arg]
    # Fields the admin chooses from a list (a related row) while the API names them another way (a code).
    api_exempt: frozenset[str] = frozenset()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None  # a ModelForm's clean() returns its cleaned_data
        serializer = self.api_serializer()
        for name in list(data):
            field = serializer.fields.get(name)
            if field is None or field.read_only or name in self.api_exempt:
                continue
            value = data[name]
            if value == "" and _may_be_blank(self._meta.model, name):
                continue  # an optional text left empty: not given, as a client leaves it out of its body
            if isinstance(value, str):  # as typed: Django's CharField would already have trimmed it
                value = self.data.get(self.add_prefix(name), value)
            try:
                value = field.run_validation(value)
                check = getattr(serializer, f"validate_{name}", None)
                data[name] = check(value) if check is not None else value
            except serializers.ValidationError as exc:
                self.add_error(name, [str(message) for message in _messages(exc.detail)])
        return data


def _may_be_blank(model: Any, name: str) -> bool:
    try:
        return bool(model._meta.get_field(name).blank)
    except FieldDoesNotExist:  # a form field with no model field behind it
        return False


def _messages(detail: Any) -> list[Any]:
    if isinstance(detail, dict):
        return [m for value in detail.values() for m in _messages(value)]
    return [m for value in detail for m in _messages(value)] if isinstance(detail, list) else [detail]
