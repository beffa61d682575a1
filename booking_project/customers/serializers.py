"""Shapes of what the customer API reads and writes. Input parsing only; the rules live in services."""
from __future__ import annotations

import re
import unicodedata

from rest_framework import serializers

from .models import Customer

_PHONE = re.compile(r"^\+?[0-9][0-9 ().\-]{2,31}$")
_LICENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ./\-]{0,63}$")


def clean_text(value: str) -> str:
    value = unicodedata.normalize("NFC", value).strip()
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co", "Cn"} for ch in value):
        raise serializers.ValidationError("Control and invisible characters are not allowed.")
    if not value:
        raise serializers.ValidationError("This field may not be blank.")
    return value


class CustomerOutput(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = [
            "id", "name", "email", "phone", "driver_licence", "status", "created_at", "updated_at", "deactivated_at"
        ]
        read_only_fields = fields


class CustomerCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    email = serializers.EmailField(max_length=254)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    driver_licence = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")

    def validate_name(self, value: str) -> str:
        return clean_text(value)

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

    name = serializers.CharField(max_length=200, required=False)
    email = serializers.EmailField(max_length=254, required=False)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    driver_licence = serializers.CharField(max_length=64, required=False, allow_blank=True)

    def validate(self, attrs: dict) -> dict:  # type: ignore[type-arg]
        fixed = {"id", "status", "created_at", "updated_at", "deactivated_at"}
        unknown = set(self.initial_data) & fixed if isinstance(self.initial_data, dict) else set()
        if unknown:
            raise serializers.ValidationError({name: ["This field cannot be changed."] for name in sorted(unknown)})
        return attrs
