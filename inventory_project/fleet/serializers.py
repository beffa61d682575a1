"""Shapes of what the fleet API reads and writes. Input parsing only; the rules live in services."""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, date, datetime

from rest_framework import serializers

from drivenow_contracts.server.fields import (
    ODOMETER_MAX_KM,
    FullMatchValidator,
    PlainTextField,
    RefusedFieldsMixin,
    StrictCharField,
    StrictDateTimeField,
    StrictIntegerField,
    UUIDStringField,
    code_field,
)

from .models import (
    MIN_RENTAL_MAX_MINUTES,
    SEATS_MAX,
    TURNAROUND_MAX_MINUTES,
    WEEKDAYS,
    YEAR_MIN,
    Car,
    CarStatus,
    Location,
    Reservation,
    Transmission,
    VehicleClass,
)

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


# Every IANA zone this Python knows (the tzdata package where the system has none), as an enum in the schema.
TIME_ZONES = sorted(zoneinfo.available_timezones())
_HH_MM = FullMatchValidator(r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$", "A time of day is HH:MM, 00:00 to 23:59.")


class CarOutput(serializers.ModelSerializer):
    """The car as every endpoint answers it. The fields document the shape; `to_representation` builds it
    directly, which is much cheaper than DRF's per-field machinery on the hot list endpoint (a test holds it
    equal to what the generic ModelSerializer would render). Its class and branch are named by their codes."""

    vehicle_class = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    location = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)

    class Meta:
        model = Car
        fields = [
            "id",
            "model",
            "year",
            "plate",
            "status",
            "created_at",
            "updated_at",
            "vehicle_class",
            "location",
            "odometer_km",
        ]
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
            "vehicle_class": car.vehicle_class.code if car.vehicle_class_id else None,
            "location": car.location.code if car.location_id else None,
            "odometer_km": car.odometer_km,
        }


class CarCreateInput(serializers.Serializer):
    id = UUIDStringField(required=False)
    model = PlainTextField(max_length=Car._meta.get_field("model").max_length)
    year = StrictIntegerField(min_value=YEAR_MIN, max_value=_max_year)
    status = serializers.ChoiceField(
        choices=[CarStatus.AVAILABLE, CarStatus.MAINTENANCE, CarStatus.RETIRED], default=CarStatus.AVAILABLE
    )
    plate = StrictCharField(max_length=20, required=False, allow_null=True, allow_blank=True, validators=[PLATE_INPUT])
    vehicle_class = code_field(required=False, allow_null=True)
    location = code_field(required=False, allow_null=True)
    odometer_km = StrictIntegerField(min_value=0, max_value=ODOMETER_MAX_KM, required=False)

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
    """A hold as the booking service sees it: v1's fields, and v2's window, class, branches and pick-up. Codes are
    read from the `*_code` attributes every read and statement supplies (selectors.with_codes)."""

    car_id = serializers.UUIDField(read_only=True)
    started_at = serializers.DateTimeField(read_only=True)
    released_at = serializers.DateTimeField(read_only=True, allow_null=True)
    starts_at = serializers.DateTimeField(read_only=True)
    ends_at = serializers.DateTimeField(read_only=True, allow_null=True)
    vehicle_class = serializers.CharField(source="vehicle_class_code", read_only=True, allow_null=True)
    location = serializers.CharField(source="location_code", read_only=True, allow_null=True)
    return_location = serializers.CharField(source="return_location_code", read_only=True, allow_null=True)
    picked_up_at = serializers.DateTimeField(read_only=True, allow_null=True)
    car_model = serializers.CharField(read_only=True, allow_null=True, help_text="The held car's model, as of now.")
    car_plate = serializers.CharField(read_only=True, allow_null=True, help_text="The held car's plate, as of now.")

    class Meta:
        model = Reservation
        fields = [
            "id",
            "car_id",
            "state",
            "started_at",
            "released_at",
            "starts_at",
            "ends_at",
            "vehicle_class",
            "location",
            "return_location",
            "picked_up_at",
            "car_model",
            "car_plate",
        ]
        read_only_fields = fields


class ReservationCreateInput(serializers.Serializer):
    """v1: `{"id", "car_id"}` (now, open-ended). v2: a window, and the car or a class at a branch."""

    id = UUIDStringField()
    car_id = UUIDStringField(required=False)
    starts_at = StrictDateTimeField(required=False)
    ends_at = StrictDateTimeField(required=False)
    vehicle_class = code_field(required=False)
    location = code_field(required=False)
    return_location = code_field(required=False)


class PickUpInput(serializers.Serializer):
    odometer_km = StrictIntegerField(min_value=0, max_value=ODOMETER_MAX_KM, required=False)


class ExtendInput(serializers.Serializer):
    ends_at = StrictDateTimeField()


class ReassignInput(serializers.Serializer):
    from_car_id = UUIDStringField(
        required=False, help_text="The car the hold leaves: when it is on another already, nothing moves again."
    )
    to_car_id = UUIDStringField(
        required=False, help_text="This car (at the branch, free for the rest of the window) rather than the best fit."
    )


class ReleaseInput(serializers.Serializer):
    odometer_km = StrictIntegerField(min_value=0, max_value=ODOMETER_MAX_KM, required=False)
    location = code_field(required=False, help_text="Where the car came back (a one-way return moves it).")
    unless_picked_up = serializers.BooleanField(
        required=False,
        help_text="A cancel's or no-show's release: refuse (409 reservation_conflict) if the car was picked up.",
    )


class BlockInput(serializers.Serializer):
    starts_at = StrictDateTimeField()
    ends_at = StrictDateTimeField()
    reason = PlainTextField(max_length=200)


class ScheduleQuery(serializers.Serializer):
    # `from` is a Python keyword: the field is named in get_fields.
    def get_fields(self) -> dict[str, serializers.Field]:
        return {"from": StrictDateTimeField(), "until": StrictDateTimeField()}


class ScheduleEntryOutput(serializers.ModelSerializer):
    """A hold or a block on the car: `busy_until` is its end with the turnaround (what the car is away for)."""

    car_id = serializers.UUIDField(read_only=True)
    starts_at = serializers.DateTimeField(read_only=True)
    busy_until = serializers.DateTimeField(read_only=True, allow_null=True)
    overdue = serializers.SerializerMethodField()
    vehicle_class = serializers.CharField(source="vehicle_class_code", read_only=True, allow_null=True)
    location = serializers.CharField(source="location_code", read_only=True, allow_null=True)
    return_location = serializers.CharField(source="return_location_code", read_only=True, allow_null=True)

    class Meta:
        model = Reservation
        fields = [
            "id",
            "kind",
            "car_id",
            "state",
            "starts_at",
            "ends_at",
            "busy_until",
            "picked_up_at",
            "overdue",
            "vehicle_class",
            "location",
            "return_location",
            "reason",
        ]
        read_only_fields = fields

    def get_overdue(self, hold: Reservation) -> bool:
        """Picked up, not back, and past its end (by this instance's clock)."""
        return bool(
            hold.state == "active"
            and hold.picked_up_at is not None
            and hold.ends_at is not None
            and hold.ends_at < datetime.now(UTC)
        )


class LocationOutput(serializers.ModelSerializer):
    class Meta:
        model = Location
        fields = ["id", "code", "name", "time_zone", "address", "opening_hours", "created_at", "updated_at"]
        read_only_fields = fields


class OpeningHoursInput(serializers.Serializer):
    """Per weekday, the intervals the branch is open, in its time zone: `[["08:00", "12:00"], ["13:00", "18:00"]]`.
    An interval that closes at or before it opens runs past midnight (`["20:00", "02:00"]`); a day not given is
    closed. No opening hours at all: always open."""

    def get_fields(self) -> dict[str, serializers.Field]:
        def day() -> serializers.ListField:
            interval = serializers.ListField(child=StrictCharField(validators=[_HH_MM]), min_length=2, max_length=2)
            return serializers.ListField(child=interval, max_length=4, required=False)

        return {name: day() for name in WEEKDAYS}


class LocationCreateInput(serializers.Serializer):
    id = UUIDStringField(required=False)
    code = code_field()
    name = PlainTextField(max_length=Location._meta.get_field("name").max_length)
    time_zone = serializers.ChoiceField(choices=TIME_ZONES)
    address = PlainTextField(max_length=Location._meta.get_field("address").max_length, required=False)
    opening_hours = OpeningHoursInput(required=False)


class LocationUpdateInput(RefusedFieldsMixin, LocationCreateInput):
    refused_fields = frozenset({"id", "created_at", "updated_at"})
    id = None  # type: ignore[assignment]
    code = code_field(required=False)
    name = PlainTextField(max_length=Location._meta.get_field("name").max_length, required=False)
    time_zone = serializers.ChoiceField(choices=TIME_ZONES, required=False)


class VehicleClassOutput(serializers.ModelSerializer):
    class Meta:
        model = VehicleClass
        fields = [
            "id",
            "code",
            "name",
            "seats",
            "transmission",
            "turnaround_minutes",
            "min_rental_minutes",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class VehicleClassCreateInput(serializers.Serializer):
    id = UUIDStringField(required=False)
    code = code_field()
    name = PlainTextField(max_length=VehicleClass._meta.get_field("name").max_length)
    seats = StrictIntegerField(min_value=1, max_value=SEATS_MAX)
    transmission = serializers.ChoiceField(choices=Transmission.choices)
    turnaround_minutes = StrictIntegerField(min_value=0, max_value=TURNAROUND_MAX_MINUTES, required=False)
    min_rental_minutes = StrictIntegerField(min_value=0, max_value=MIN_RENTAL_MAX_MINUTES, required=False)


class VehicleClassUpdateInput(RefusedFieldsMixin, VehicleClassCreateInput):
    refused_fields = frozenset({"id", "created_at", "updated_at"})
    id = None  # type: ignore[assignment]
    code = code_field(required=False)
    name = PlainTextField(max_length=VehicleClass._meta.get_field("name").max_length, required=False)
    seats = StrictIntegerField(min_value=1, max_value=SEATS_MAX, required=False)
    transmission = serializers.ChoiceField(choices=Transmission.choices, required=False)


class AvailabilityQuery(serializers.Serializer):
    pickup_at = StrictDateTimeField()
    return_at = StrictDateTimeField()
    location = code_field()
    vehicle_class = code_field(required=False)
    # Where the car comes back: it must be open then; a one-way return does not change which cars are free.
    return_location = code_field(required=False)


class AvailabilityOutput(serializers.Serializer):
    vehicle_class = serializers.CharField()
    available_cars = serializers.IntegerField(min_value=0)
