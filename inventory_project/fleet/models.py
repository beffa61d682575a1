"""Cars and reservations. The database enforces the invariants: statuses, year range, unique plates, no overlap."""

from __future__ import annotations

import uuid

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeOperators
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper

import drivenow_contracts as contract

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


class Car(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    model = models.CharField(max_length=100)
    year = models.PositiveSmallIntegerField()
    # Stored normalised (upper case, no spaces or dashes), so "ab-12 cd" and "AB12CD" are one plate.
    plate = models.CharField(max_length=16, unique=True, null=True, blank=True)
    status = models.CharField(max_length=16, choices=CarStatus.choices, default=CarStatus.AVAILABLE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["status", "created_at", "id"], name="car_status_created_idx"),
            models.Index(fields=["year"], name="car_year_idx"),
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
        ]

    def __str__(self) -> str:
        return f"{self.model} ({self.year}){' ' + self.plate if self.plate else ''}"


class Reservation(models.Model):
    """A hold on a car. Its id is chosen by the caller (booking's rental id), which makes every call idempotent.

    A released id is spent forever. When a release names an id inventory never held, a *tombstone* is stored:
    a released row without a car. Its primary key is what makes a late reserve with that id fail, however the two
    requests interleave (they meet on the key)."""

    id = models.UUIDField(primary_key=True, editable=False)
    # NULL only for a tombstone.
    car = models.ForeignKey(Car, on_delete=models.PROTECT, related_name="reservations", null=True, blank=True)
    # [started, released) — the upper bound stays open while the hold lasts.
    period = DateTimeRangeField()
    state = models.CharField(max_length=16, choices=ReservationState.choices, default=ReservationState.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("manage_reservations", "Can take and release cars through the reservation API")]
        constraints = [
            ExclusionConstraint(
                name="reservation_no_overlap",
                expressions=[("car", RangeOperators.EQUAL), ("period", RangeOperators.OVERLAPS)],
                condition=~Q(state=ReservationState.RELEASED),
                violation_error_code="car_unavailable",
            ),
            models.CheckConstraint(condition=Q(state__in=ReservationState.values), name="reservation_state_valid"),
            # An active hold is open-ended; a released one has its end.
            models.CheckConstraint(
                condition=Q(state=ReservationState.ACTIVE, period__endswith__isnull=True)
                | Q(state=ReservationState.RELEASED, period__endswith__isnull=False),
                name="reservation_period_matches_state",
            ),
            models.CheckConstraint(
                condition=Q(car__isnull=False) | Q(state=ReservationState.RELEASED),
                name="reservation_car_unless_tombstone",
            ),
        ]

    def __str__(self) -> str:
        return f"Reservation {self.id} ({'spent id' if self.is_tombstone else self.state})"

    @property
    def is_tombstone(self) -> bool:
        return self.car_id is None

    @property
    def started_at(self):  # type: ignore[no-untyped-def]
        return self.period.lower

    @property
    def released_at(self):  # type: ignore[no-untyped-def]
        return self.period.upper
