"""Shapes of what the fleet API reads and writes. Input parsing only; the rules live in services."""
from __future__ import annotations

import re
from datetime import date

from drivenow_servicekit.fields import UUIDStringField, clean_text
from rest_framework import serializers

from .models import YEAR_MIN, Car, CarStatus, Reservation

_PLATE_CHARS = re.compile(r"^[A-Z0-9]{1,12}$")


def _max_year() -> int:
    # Next year's models are sold this year.
    return date.today().year + 1


class CarOutput(serializers.ModelSerializer):
    class Meta:
        model = Car
        fields = ["id", "model", "year", "plate", "status", "created_at", "updated_at"]
        read_only_fields = fields


class CarCreateInput(serializers.Serializer):
    id = UUIDStringField(required=False)
    model = serializers.CharField(max_length=100)
    year = serializers.IntegerField(min_value=YEAR_MIN)
    status = serializers.ChoiceField(
        choices=[CarStatus.AVAILABLE, CarStatus.MAINTENANCE, CarStatus.RETIRED], default=CarStatus.AVAILABLE
    )
    plate = serializers.CharField(max_length=20, required=False, allow_null=True, allow_blank=True)

    def validate_model(self, value: str) -> str:
        return clean_text(value, max_length=Car._meta.get_field("model").max_length)

    def validate_year(self, value: int) -> int:
        if value > _max_year():
            raise serializers.ValidationError(f"Ensure this value is less than or equal to {_max_year()}.")
        return value

    def validate_plate(self, value: str | None) -> str | None:
        from .services import plate_normalise

        if value is None or not value.strip():
            return None
        normalised = plate_normalise(value)
        if not _PLATE_CHARS.match(normalised):
            raise serializers.ValidationError("A plate is 1–12 letters A–Z and digits (spaces and dashes ignored).")
        return normalised


class CarUpdateInput(CarCreateInput):
    """PATCH: any subset; `status` may name `rented` so the service can answer 409 rather than 400."""

    id = None  # type: ignore[assignment]
    model = serializers.CharField(max_length=100, required=False)
    year = serializers.IntegerField(min_value=YEAR_MIN, required=False)
    status = serializers.ChoiceField(choices=CarStatus.choices, required=False)

    def validate(self, attrs: dict) -> dict:  # type: ignore[type-arg]
        fixed = {"id", "created_at", "updated_at"} & set(self.initial_data)
        if fixed:  # silently ignoring them would let a client believe it changed them
            raise serializers.ValidationError({name: ["This field cannot be changed."] for name in sorted(fixed)})
        return attrs


class ReservationOutput(serializers.ModelSerializer):
    car_id = serializers.UUIDField(read_only=True)
    started_at = serializers.DateTimeField(read_only=True)
    released_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Reservation
        fields = ["id", "car_id", "state", "started_at", "released_at"]
        read_only_fields = fields


class ReservationCreateInput(serializers.Serializer):
    id = UUIDStringField()
    car_id = UUIDStringField()
