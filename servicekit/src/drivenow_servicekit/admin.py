"""Django admin pieces every DriveNow service uses."""
from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.options import IncorrectLookupParameters
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


class ApiRulesForm(forms.ModelForm):
    """An admin form held to the API's rules: each of its fields that the API serializer (`api_serializer`) also
    has is checked and cleaned by that serializer field — and its `validate_<name>` — on the value as typed, so a
    plate, a name or a year the API refuses is refused here with the same message, and what is stored is what the
    API would store. Django's own cleaning runs first (required, choices, lengths, NUL)."""

    api_serializer: type[serializers.Serializer]  # type: ignore[type-arg]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        serializer = self.api_serializer()
        for name in list(data):
            field = serializer.fields.get(name)
            if field is None or field.read_only:
                continue
            value = data[name]
            if isinstance(value, str):  # as typed: Django's CharField would already have trimmed it
                value = self.data.get(self.add_prefix(name), value)
            try:
                value = field.run_validation(value)
                check = getattr(serializer, f"validate_{name}", None)
                data[name] = check(value) if check is not None else value
            except serializers.ValidationError as exc:
                self.add_error(name, [str(message) for message in _messages(exc.detail)])
        return data


def _messages(detail: Any) -> list[Any]:
    if isinstance(detail, dict):
        return [m for value in detail.values() for m in _messages(value)]
    return [m for value in detail for m in _messages(value)] if isinstance(detail, list) else [detail]


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


def actions_without_permissions(site: Any) -> list[str]:
    """Every action of every ModelAdmin on `site` that declares no permission (so anyone who may view the list may
    run it), or declares one its admin has no `has_<name>_permission` for: "Model: action"."""
    found = []
    for model, model_admin in site._registry.items():
        for action in model_admin.actions or []:
            func = getattr(model_admin, action) if isinstance(action, str) else action
            permissions = getattr(func, "allowed_permissions", None) or ()
            if not permissions or any(not hasattr(model_admin, f"has_{p}_permission") for p in permissions):
                found.append(f"{model.__name__}: {getattr(func, '__name__', action)}")
    return found
