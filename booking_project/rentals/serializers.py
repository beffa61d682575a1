"""Shapes of what the rental API reads and writes. Input parsing only; the rules live in services."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from drivenow_contracts.server.fields import (
    ODOMETER_MAX_KM,
    PlainTextField,
    StrictDateTimeField,
    StrictIntegerField,
    UUIDStringField,
    code_field,
)

from .models import FUEL_FULL_EIGHTHS, HandoverKind, Rental


class HandoverOutput(serializers.Serializer):
    """A handover's readings, from a rental's `handover_rows` (selectors.rental_list)."""

    kind = serializers.ChoiceField(choices=HandoverKind.choices)
    odometer_km = serializers.IntegerField(allow_null=True)
    fuel_eighths = serializers.IntegerField(allow_null=True, min_value=0, max_value=FUEL_FULL_EIGHTHS)
    damage = serializers.CharField(allow_blank=True)
    location = serializers.CharField(allow_null=True)
    staff_user = serializers.CharField(allow_blank=True)
    at = serializers.DateTimeField()

    def to_representation(self, instance: Any) -> Any:
        row = dict(instance)
        if isinstance(row.get("at"), str):
            row["at"] = datetime.fromisoformat(row["at"])
        return super().to_representation(row)


class CarSnapshotOutput(serializers.Serializer):
    """The car as inventory last reported it (its id, model and plate)."""

    id = serializers.UUIDField(allow_null=True)
    model = serializers.CharField()
    plate = serializers.CharField(allow_null=True)


class RentalOutput(serializers.ModelSerializer):
    customer_id = serializers.UUIDField(read_only=True)
    quote_id = serializers.UUIDField(read_only=True, allow_null=True)
    car = serializers.SerializerMethodField()
    picked_up_at = serializers.DateTimeField(source="started_at", read_only=True, allow_null=True)
    handovers = serializers.SerializerMethodField()

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
            "pickup_at",
            "return_at",
            "pickup_location",
            "return_location",
            "vehicle_class",
            "car",
            "picked_up_at",
            "handovers",
            "quote_id",
            "price",
            "currency",
        ]
        read_only_fields = fields

    @extend_schema_field(HandoverOutput(many=True))
    def get_handovers(self, rental: Rental) -> list[dict[str, Any]]:
        # A rental read through selectors carries its rows; one a statement just wrote (a walk-in started or
        # ended without readings) has none.
        return HandoverOutput(getattr(rental, "handover_rows", None) or [], many=True).data  # type: ignore[return-value]

    @extend_schema_field(CarSnapshotOutput(allow_null=True))
    def get_car(self, rental: Rental) -> dict[str, Any] | None:
        if rental.car_id is None:
            return None
        return {"id": str(rental.car_id), "model": rental.car_model, "plate": rental.car_plate or None}


class RentalCreateInput(serializers.Serializer):
    """v1: `{"car_id", "customer_id", "expected_return_at"?}`, a walk-in that starts now. v2: a booking ahead,
    `{"customer_id", "vehicle_class" | "car_id", "pickup_location", "return_location"?, "pickup_at", "return_at"}`."""

    car_id = UUIDStringField(required=False)
    customer_id = UUIDStringField()
    expected_return_at = StrictDateTimeField(required=False, allow_null=True, default=None)
    vehicle_class = code_field(required=False)
    pickup_location = code_field(required=False)
    return_location = code_field(required=False)
    pickup_at = StrictDateTimeField(required=False)
    return_at = StrictDateTimeField(required=False)
    quote_id = UUIDStringField(
        required=False, help_text="Book at a quote's price: the same class, branches and window, before it expires."
    )

    def run_validation(self, data: Any = serializers.empty) -> Any:
        try:
            return super().run_validation(data)
        except serializers.ValidationError as refused:
            # A body that is no booking and is refused anyway (an empty one): say car_id is missing too, as v1 did.
            body = data if isinstance(data, dict) else {}
            if isinstance(refused.detail, dict) and "car_id" not in body and not set(BOOKING_FIELDS) & set(body):
                refused.detail.setdefault("car_id", [serializers.ErrorDetail("This field is required.", "required")])
            raise


class PickUpInput(serializers.Serializer):
    odometer_km = StrictIntegerField(min_value=0, max_value=ODOMETER_MAX_KM)
    fuel_eighths = StrictIntegerField(min_value=0, max_value=FUEL_FULL_EIGHTHS)
    damage = PlainTextField(max_length=2000, required=False, help_text="Damage noted before the car leaves.")
    car_id = UUIDStringField(required=False, help_text="Give the customer this car instead (same branch).")
    payment_method = serializers.RegexField(
        r"^[A-Za-z0-9_]{1,100}$",
        required=False,
        help_text="The card the deposit is authorised on, when one is required and none was authorised ahead.",
    )


class EndInput(serializers.Serializer):
    """v1: `{}`. v2: the return's readings."""

    odometer_km = StrictIntegerField(min_value=0, max_value=ODOMETER_MAX_KM, required=False)
    fuel_eighths = StrictIntegerField(min_value=0, max_value=FUEL_FULL_EIGHTHS, required=False)
    damage = PlainTextField(max_length=2000, required=False)
    return_location = code_field(required=False, help_text="Where the car came back (a one-way return moves it).")


class ExtendInput(serializers.Serializer):
    return_at = StrictDateTimeField()


BOOKING_FIELDS = ("vehicle_class", "pickup_location", "return_location", "pickup_at", "return_at", "quote_id")


def rental_create_canonical(validated: dict) -> dict:  # type: ignore[type-arg]
    """The validated start request in one spelling, for the Idempotency-Key fingerprint."""

    def spelled(value: Any) -> Any:
        return value.isoformat() if hasattr(value, "isoformat") else (str(value) if value is not None else None)

    canonical = {
        "car_id": spelled(validated.get("car_id")),
        "customer_id": str(validated["customer_id"]),
        "expected_return_at": spelled(validated.get("expected_return_at")),
    }
    canonical.update({name: spelled(validated[name]) for name in BOOKING_FIELDS if name in validated})
    return canonical
