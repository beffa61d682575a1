"""Shapes of what the customer API reads and writes. Input parsing only; the rules live in services."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from drivenow_contracts.server.fields import (
    FullMatchValidator,
    PlainTextField,
    RefusedFieldsMixin,
    StrictCharField,
    StrictEmailField,
)

from .models import Customer
from .services import email_normalise

# Checked as sent (the schema's patterns); stored trimmed.
PHONE_INPUT = FullMatchValidator(
    r"^\+?[0-9][0-9 ().\-]{2,31}$",
    "A phone number is digits, spaces, dashes, dots and brackets, with an optional leading +.",
)
LICENCE_INPUT = FullMatchValidator(
    r"^[A-Za-z0-9][A-Za-z0-9 ./\-]{0,63}$", "A licence number is letters, digits, spaces, dots, slashes and dashes."
)


NAME_MAX_LENGTH = Customer._meta.get_field("name").max_length
EMAIL_MAX_LENGTH = Customer._meta.get_field("email").max_length


def clean_email(value: str) -> str:
    """The email as it will be stored; lower-casing the domain can lengthen it (U+0130 becomes two code points)."""
    if len(email_normalise(value)) > EMAIL_MAX_LENGTH:
        raise serializers.ValidationError(f"Ensure this field has no more than {EMAIL_MAX_LENGTH} characters.")
    return value


@extend_schema_field({"type": "string", "anyOf": [{"format": "email"}, {"maxLength": 0}]})
class _CustomerEmailOutput(serializers.CharField):
    """An email address, or "" once the customer is deactivated (anonymised)."""


class CustomerOutput(serializers.ModelSerializer):
    email = _CustomerEmailOutput(read_only=True)

    class Meta:
        model = Customer
        fields = [
            "id",
            "name",
            "email",
            "phone",
            "driver_licence",
            "status",
            "created_at",
            "updated_at",
            "deactivated_at",
        ]
        read_only_fields = fields


class CustomerCreateInput(serializers.Serializer):
    name = PlainTextField(max_length=NAME_MAX_LENGTH)
    email = StrictEmailField(max_length=EMAIL_MAX_LENGTH)
    phone = StrictCharField(max_length=32, required=False, allow_blank=True, default="", validators=[PHONE_INPUT])
    driver_licence = StrictCharField(
        max_length=64, required=False, allow_blank=True, default="", validators=[LICENCE_INPUT]
    )

    def validate_email(self, value: str) -> str:
        return clean_email(value)

    def validate_phone(self, value: str) -> str:
        return value.strip()

    def validate_driver_licence(self, value: str) -> str:
        return value.strip()


class CustomerUpdateInput(RefusedFieldsMixin, CustomerCreateInput):
    """PATCH: any subset of the writable fields; the ones the service sets are refused (400)."""

    refused_fields = frozenset({"id", "status", "created_at", "updated_at", "deactivated_at"})

    name = PlainTextField(max_length=NAME_MAX_LENGTH, required=False)
    email = StrictEmailField(max_length=EMAIL_MAX_LENGTH, required=False)
    phone = StrictCharField(max_length=32, required=False, allow_blank=True, validators=[PHONE_INPUT])
    driver_licence = StrictCharField(max_length=64, required=False, allow_blank=True, validators=[LICENCE_INPUT])
