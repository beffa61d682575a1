"""Shapes of what the customer API reads and writes. Input parsing only; the rules live in services."""
from __future__ import annotations

import re

from drivenow_servicekit.fields import clean_text
from rest_framework import serializers

from .models import Customer
from .services import email_normalise

_PHONE = re.compile(r"^\+?[0-9][0-9 ().\-]{2,31}$")
_LICENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ./\-]{0,63}$")


NAME_MAX_LENGTH = Customer._meta.get_field("name").max_length
EMAIL_MAX_LENGTH = Customer._meta.get_field("email").max_length


def clean_email(value: str) -> str:
    """The email as it will be stored; lower-casing the domain can lengthen it (U+0130 becomes two code points)."""
    if len(email_normalise(value)) > EMAIL_MAX_LENGTH:
        raise serializers.ValidationError(f"Ensure this field has no more than {EMAIL_MAX_LENGTH} characters.")
    return value


class CustomerOutput(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = [
            "id", "name", "email", "phone", "driver_licence", "status", "created_at", "updated_at", "deactivated_at"
        ]
        read_only_fields = fields


class CustomerCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=NAME_MAX_LENGTH)
    email = serializers.EmailField(max_length=EMAIL_MAX_LENGTH)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    driver_licence = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")

    def validate_name(self, value: str) -> str:
        return clean_text(value, max_length=NAME_MAX_LENGTH)

    def validate_email(self, value: str) -> str:
        return clean_email(value)

    def validate_phone(self, value: str) -> str:
        value = value.strip()
        if value and not _PHONE.match(value):
            raise serializers.ValidationError(
                "A phone number is digits, spaces, dashes, dots and brackets, with an optional leading +."
            )
        return value

    def validate_driver_licence(self, value: str) -> str:
        value = value.strip()
        if value and not _LICENCE.match(value):
            raise serializers.ValidationError("A licence number is letters, digits, spaces, dots, slashes and dashes.")
        return value


class CustomerUpdateInput(CustomerCreateInput):
    """PATCH: any subset of the writable fields."""

    name = serializers.CharField(max_length=NAME_MAX_LENGTH, required=False)
    email = serializers.EmailField(max_length=EMAIL_MAX_LENGTH, required=False)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    driver_licence = serializers.CharField(max_length=64, required=False, allow_blank=True)

    def validate(self, attrs: dict) -> dict:  # type: ignore[type-arg]
        fixed = {"id", "status", "created_at", "updated_at", "deactivated_at"}
        unknown = set(self.initial_data) & fixed if isinstance(self.initial_data, dict) else set()
        if unknown:
            raise serializers.ValidationError({name: ["This field cannot be changed."] for name in sorted(unknown)})
        return attrs
