"""Branches, vehicle classes, cars and reservations. The database enforces the invariants: statuses, year range,
unique codes and plates, an odometer that never goes down, no overlapping holds."""

from __future__ import annotations

import uuid
import zoneinfo
from datetime import datetime

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeOperators
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper

import drivenow_contracts as contract
from drivenow_contracts.server.fields import CODE_PATTERN, ODOMETER_MAX_KM

YEAR_MIN = 1900
YEAR_MAX = 2100


class CarStatus(models.TextChoices):
    """The contract's car statuses (drivenow_contracts.CarStatus) with the admin's labels; tests/test_contract.py
    holds the two equal."""

    AVAILABLE = contract.CarStatus.AVAILABLE.value, "Available"
    RENTED = contract.CarStatus.RENTED.value, "Rented"
    MAINTENANCE = contract.CarStatus.MAINTENANCE.value, "In maintenance"
    RETIRED = contract.CarStatus.RETIRED.value, "Retired"


class ReservationState(models.TextChoices):
    """The contract's reservation states (drivenow_contracts.ReservationState) with the admin's labels."""

    ACTIVE = contract.ReservationState.ACTIVE.value, "Active"
    RELEASED = contract.ReservationState.RELEASED.value, "Released"


SEATS_MAX = 60
TURNAROUND_MAX_MINUTES = 24 * 60
MIN_RENTAL_MAX_MINUTES = 7 * 24 * 60


class Transmission(models.TextChoices):
    MANUAL = "manual", "Manual"
    AUTOMATIC = "automatic", "Automatic"


class Location(models.Model):
    """A branch: where cars are picked up and returned. Its local day (opening hours) is in its IANA time zone."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    time_zone = models.CharField(max_length=64)
    address = models.CharField(max_length=300, blank=True, default="")
    # {"mon": [["08:00", "20:00"]], …}: the intervals of each weekday the branch is open, in its time zone; a day
    # not listed is closed; no opening hours at all: always open.
    opening_hours = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(code__regex=CODE_PATTERN), name="location_code_format"),
        ]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"

    def is_open_at(self, instant: datetime) -> bool:
        """Whether the branch is open at this instant, read on its own wall clock. An interval that closes at or
        before it opens runs past midnight into the next day; no opening hours at all: always open."""
        if not self.opening_hours:
            return True
        local = instant.astimezone(zoneinfo.ZoneInfo(self.time_zone))
        now = local.strftime("%H:%M")
        today, yesterday = WEEKDAYS[local.weekday()], WEEKDAYS[(local.weekday() - 1) % 7]
        for opens, closes in self.opening_hours.get(today, []):
            if (opens <= now < closes) or (closes <= opens <= now):
                return True
        return any(closes <= opens and now < closes for opens, closes in self.opening_hours.get(yesterday, []))


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class VehicleClass(models.Model):
    """What a customer books: a kind of car (seats, transmission), and how long a car of it needs between holds."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    seats = models.PositiveSmallIntegerField()
    transmission = models.CharField(max_length=16, choices=Transmission.choices)
    # Cleaning and checking after every hold: a car of this class is held this much longer than its rental.
    turnaround_minutes = models.PositiveIntegerField(default=30)
    # The shortest window a car of this class is booked for (a reserve for less is 422 window_too_short).
    min_rental_minutes = models.PositiveIntegerField(default=60, db_default=60)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "vehicle classes"
        constraints = [
            models.CheckConstraint(condition=Q(code__regex=CODE_PATTERN), name="vehicle_class_code_format"),
            models.CheckConstraint(condition=Q(seats__gte=1, seats__lte=SEATS_MAX), name="vehicle_class_seats_range"),
            models.CheckConstraint(
                condition=Q(transmission__in=Transmission.values), name="vehicle_class_transmission_valid"
            ),
            models.CheckConstraint(
                condition=Q(turnaround_minutes__lte=TURNAROUND_MAX_MINUTES), name="vehicle_class_turnaround_range"
            ),
            models.CheckConstraint(
                condition=Q(min_rental_minutes__lte=MIN_RENTAL_MAX_MINUTES), name="vehicle_class_min_rental_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class Car(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    model = models.CharField(max_length=100)
    year = models.PositiveSmallIntegerField()
    # Stored normalised (upper case, no spaces or dashes), so "ab-12 cd" and "AB12CD" are one plate.
    plate = models.CharField(max_length=16, unique=True, null=True, blank=True)
    status = models.CharField(max_length=16, choices=CarStatus.choices, default=CarStatus.AVAILABLE)
    # v2; NULL for a car that has none yet (every v1 car).
    vehicle_class = models.ForeignKey(
        VehicleClass, on_delete=models.PROTECT, null=True, blank=True, related_name="cars"
    )
    # Where the car is now: a one-way return moves it.
    location = models.ForeignKey(Location, on_delete=models.PROTECT, null=True, blank=True, related_name="cars")
    # Never goes down: a trigger refuses it (constraint name car_odometer_never_decreases, migration 0005).
    odometer_km = models.PositiveIntegerField(default=0, db_default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["status", "created_at", "id"], name="car_status_created_idx"),
            models.Index(fields=["year"], name="car_year_idx"),
            # A reserve's candidates and the planning board's rows are the cars of one class at one branch: read
            # through this index, not through the class's cars in the whole fleet (bench: 700 rows, not 2,400).
            models.Index(fields=["location", "vehicle_class"], name="car_location_class_idx"),
            # `?model=` is a case-insensitive contains (UPPER(model) LIKE '%…%'): trigrams make it an index scan.
            GinIndex(OpClass(Upper("model"), name="gin_trgm_ops"), name="car_model_trgm_idx", fastupdate=False),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=CarStatus.values), name="car_status_valid", violation_error_code="invalid"
            ),
            models.CheckConstraint(
                condition=Q(year__gte=YEAR_MIN, year__lte=YEAR_MAX),
                name="car_year_range",
                violation_error_code="invalid",
            ),
            models.CheckConstraint(condition=~Q(plate=""), name="car_plate_not_blank"),
            models.CheckConstraint(condition=Q(odometer_km__lte=ODOMETER_MAX_KM), name="car_odometer_range"),
        ]

    def __str__(self) -> str:
        return f"{self.model} ({self.year}){' ' + self.plate if self.plate else ''}"


class HoldKind(models.TextChoices):
    """What holds a car: a rental (the booking service's reservation) or a block staff set (maintenance, a
    transfer, any planned absence). Both live under one exclusion constraint, so neither can overlap the other."""

    RENTAL = "rental", "Rental"
    BLOCK = "block", "Block"


class Reservation(models.Model):
    """A hold on a car for a window. A rental's id is chosen by the caller (booking's rental id), which makes every
    call idempotent; a block's id is inventory's.

    `period` is what the car is away for: `[starts_at, ends_at + the class's turnaround)`, or `[starts_at, ∞)` for
    v1's open-ended walk-in until it is released. `ends_at` is the end the caller asked for (no turnaround).

    A released id is spent forever. When a release names an id inventory never held, a *tombstone* is stored:
    a released row without a car. Its primary key is what makes a late reserve with that id fail, however the two
    requests interleave (they meet on the key)."""

    id = models.UUIDField(primary_key=True, editable=False)
    kind = models.CharField(
        max_length=16, choices=HoldKind.choices, default=HoldKind.RENTAL, db_default=HoldKind.RENTAL
    )
    # NULL only for a tombstone.
    car = models.ForeignKey(Car, on_delete=models.PROTECT, related_name="reservations", null=True, blank=True)
    period = DateTimeRangeField()
    state = models.CharField(max_length=16, choices=ReservationState.choices, default=ReservationState.ACTIVE)
    # v2 (NULL for v1's open-ended holds and for tombstones): the window's end as asked, the class booked, the
    # branches of pick-up and return.
    ends_at = models.DateTimeField(null=True, blank=True)
    vehicle_class = models.ForeignKey(
        VehicleClass, on_delete=models.PROTECT, null=True, blank=True, related_name="reservations"
    )
    location = models.ForeignKey(Location, on_delete=models.PROTECT, null=True, blank=True, related_name="pickups")
    return_location = models.ForeignKey(
        Location, on_delete=models.PROTECT, null=True, blank=True, related_name="returns"
    )
    # When the car left: a v1 walk-in leaves at once; a booking at its pick-up. Until then the car's status is
    # not touched (future holds never change the state now).
    picked_up_at = models.DateTimeField(null=True, blank=True)
    # A block's why ("brake service", "transfer to LON-LHR").
    reason = models.CharField(max_length=200, blank=True, default="", db_default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("manage_reservations", "Can take and release cars through the reservation API")]
        indexes = [
            # The cars out now, and the overdue among them: a handful of rows, read by every availability search.
            models.Index(
                fields=["car", "ends_at"],
                name="reservation_out_idx",
                condition=Q(state=ReservationState.ACTIVE, picked_up_at__isnull=False),
            ),
        ]
        constraints = [
            ExclusionConstraint(
                name="reservation_no_overlap",
                expressions=[("car", RangeOperators.EQUAL), ("period", RangeOperators.OVERLAPS)],
                condition=~Q(state=ReservationState.RELEASED),
                violation_error_code="car_unavailable",
            ),
            models.CheckConstraint(condition=Q(state__in=ReservationState.values), name="reservation_state_valid"),
            models.CheckConstraint(condition=Q(kind__in=HoldKind.values), name="reservation_kind_valid"),
            # A released hold has its end; an active one may be open-ended (v1) or bounded (v2).
            models.CheckConstraint(
                condition=Q(state=ReservationState.ACTIVE) | Q(period__endswith__isnull=False),
                name="reservation_released_has_end",
            ),
            models.CheckConstraint(
                condition=Q(car__isnull=False) | Q(state=ReservationState.RELEASED),
                name="reservation_car_unless_tombstone",
            ),
            # A block is always on a car and always bounded, and is never picked up.
            models.CheckConstraint(
                condition=Q(kind=HoldKind.RENTAL)
                | Q(car__isnull=False, ends_at__isnull=False, picked_up_at__isnull=True),
                name="reservation_block_shape",
            ),
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(period__startswith__lt=models.F("ends_at")),
                name="reservation_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        if self.is_tombstone:
            return f"Reservation {self.id} (spent id)"
        return f"{self.get_kind_display()} {self.id} ({self.state})"

    @property
    def is_tombstone(self) -> bool:
        return self.car_id is None

    @property
    def started_at(self):  # type: ignore[no-untyped-def]
        return self.period.lower

    @property
    def starts_at(self):  # type: ignore[no-untyped-def]
        return self.period.lower

    @property
    def busy_until(self):  # type: ignore[no-untyped-def]
        """The end of the car's absence, turnaround included (None while open-ended)."""
        return self.period.upper

    @property
    def released_at(self):  # type: ignore[no-untyped-def]
        return self.period.upper if self.state == ReservationState.RELEASED else None
