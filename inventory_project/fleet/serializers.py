"""Shapes of what the fleet API reads and writes. Input parsing only; the rules live in services."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from rest_framework import serializers

from drivenow_contracts.server.fields import (
    FullMatchValidator,
    PlainTextField,
    StrictCharField,
    StrictIntegerField,
    UUIDStringField,
)

from .models import YEAR_MIN, Car, CarStatus, Reservation

_PLATE_CHARS = re.compile(r"^[A-Z0-9]{1,12}$")
# A plate as typed: blank (no plate), or 1–12 letters and digits with spaces, dashes, dots between (the schema's
# pattern; the service normalises it to "AB12CD").
PLATE_INPUT = FullMatchValidator(
    r"^(?: *|[ .·-]*(?:[A-Za-z0-9][ .·-]*){1,12})$",
    "A plate is 1–12 letters A–Z and digits (spaces, dots and dashes between them are ignored).",
)


def _max_year() -> int:
    # Next year's models are sold this year.
    return date.today().year + 1


def _iso(value: datetime) -> str:
    """A timestamp as DRF renders it: ISO 8601 in UTC, with 'Z'."""
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class CarOutput(serializers.ModelSerializer):
    """The car as every endpoint answers it. The fields document the shape; `to_representation` builds it
    directly, which is much cheaper than DRF's per-field machinery on the hot list endpoint (a test holds it
    equal to what the generic ModelSerializer would render)."""

    class Meta:
        model = Car
        fields = ["id", "model", "year", "plate", "status", "created_at", "updated_at"]
        read_only_fields = fields

    def to_representation(self, car: Car) -> dict[str, object]:
        return {
            "id": str(car.id),
            "model": car.model,
            "year": car.year,
            "plate": car.plate,
            "status": car.status,
            "created_at": _iso(car.created_at),
            "updated_at": _iso(car.updated_at),
        }


class CarCreateInput(serializers.Serializer):
    id = UUIDStringField(required=False)
    model = PlainTextField(max_length=Car._meta.get_field("model").max_length)
    year = StrictIntegerField(min_value=YEAR_MIN, max_value=_max_year)
    status = serializers.ChoiceField(
        choices=[CarStatus.AVAILABLE, CarStatus.MAINTENANCE, CarStatus.RETIRED], default=CarStatus.AVAILABLE
    )
    plate = StrictCharField(max_length=20, required=False, allow_null=True, allow_blank=True, validators=[PLATE_INPUT])

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
    model = PlainTextField(max_length=Car._meta.get_field("model").max_length, required=False)
    year = StrictIntegerField(min_value=YEAR_MIN, max_value=_max_year, required=False)
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
