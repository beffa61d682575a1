"""Shapes of what the rental API reads and writes. Input parsing only; the rules live in services."""

from __future__ import annotations

from rest_framework import serializers

from drivenow_contracts.server.fields import StrictDateTimeField, UUIDStringField

from .models import Rental


class RentalOutput(serializers.ModelSerializer):
    customer_id = serializers.UUIDField(read_only=True)

    class Meta:
        model = Rental
        fields = [
            "id",
            "car_id",
            "customer_id",
            "status",
            "started_at",
            "expected_return_at",
            "ended_at",
            "failure_code",
        ]
        read_only_fields = fields


class RentalCreateInput(serializers.Serializer):
    car_id = UUIDStringField()
    customer_id = UUIDStringField()
    expected_return_at = StrictDateTimeField(required=False, allow_null=True, default=None)


def rental_create_canonical(validated: dict) -> dict:  # type: ignore[type-arg]
    """The validated start request in one spelling, for the Idempotency-Key fingerprint."""
    expected = validated.get("expected_return_at")
    return {
        "car_id": str(validated["car_id"]),
        "customer_id": str(validated["customer_id"]),
        "expected_return_at": expected.isoformat() if expected is not None else None,
    }
