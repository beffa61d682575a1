"""Rentals, the idempotency keys of their start requests, and the outbox of messages for inventory.

The database enforces the invariants: statuses, what each status implies, one key per start request.
Which car is free is not booking's to decide: inventory's reservation API (and its exclusion constraint) does.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from customers.models import Customer


class RentalStatus(models.TextChoices):
    PENDING = "pending", "Pending (reserving the car)"
    RESERVED = "reserved", "Reserved (booked ahead, not picked up)"
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    NO_SHOW = "no_show", "No-show"
    FAILED = "failed", "Failed"


# Statuses in which inventory holds a car for the rental (pending: it may).
HOLDING_STATUSES = (RentalStatus.PENDING, RentalStatus.RESERVED, RentalStatus.ACTIVE)


class FailureCode(models.TextChoices):
    CAR_UNAVAILABLE = "car_unavailable", "Car unavailable"
    CAR_NOT_FOUND = "car_not_found", "Car not found"
    # The reserve call's outcome was unknown (inventory down, timed out, answered nonsense); a release was queued.
    INVENTORY_UNAVAILABLE = "inventory_unavailable", "Inventory unavailable"
    # Left `pending` (a crash, or a 503 nobody retried) and failed by the relay's sweep, which released its hold:
    # a pending rental never answered 201, so nobody was told it started.
    ABANDONED = "abandoned", "Abandoned (failed by the sweep, hold released)"
    # v2: inventory refused the booking's window.
    CLASS_UNAVAILABLE = "class_unavailable", "No car of the class free for the window"
    OUTSIDE_OPENING_HOURS = "outside_opening_hours", "Branch closed at pick-up or return"
    WINDOW_TOO_SHORT = "window_too_short", "Shorter than the class's minimum rental"
    VEHICLE_CLASS_NOT_FOUND = "vehicle_class_not_found", "No such vehicle class"
    LOCATION_NOT_FOUND = "location_not_found", "No such branch"
    RETURN_BEFORE_PICKUP = "return_before_pickup", "The window ended before it started"


class Rental(models.Model):
    """A customer's use of a car: a walk-in that starts now (v1), or a booking for a window by class or car at a
    branch (v2): `reserved`, picked up → `active`, returned → `completed`. Its id is also the reservation id in
    inventory."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # NULL only while a booking by class waits for inventory to choose the car (or failed before it did).
    car_id = models.UUIDField(null=True, blank=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="rentals")
    status = models.CharField(max_length=16, choices=RentalStatus.choices, default=RentalStatus.PENDING)
    failure_code = models.CharField(max_length=32, choices=FailureCode.choices, null=True, blank=True)
    # On the database's clock (its default, and Now() on every change): the sweep compares updated_at with that
    # clock, so an instance whose own clock is off cannot make a rental look stale, or young.
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    expected_return_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(db_default=Now(), editable=False)
    # v2: the window booked (a walk-in's pickup_at is its start, its return_at the expected return, if given),
    # the branches and the class by code, and the car as inventory last reported it (the front desk and the admin
    # see cars, not ids).
    pickup_at = models.DateTimeField(null=True, blank=True)
    return_at = models.DateTimeField(null=True, blank=True)
    pickup_location = models.CharField(max_length=32, null=True, blank=True)
    return_location = models.CharField(max_length=32, null=True, blank=True)
    vehicle_class = models.CharField(max_length=32, null=True, blank=True)
    # Set while a pick-up talks to inventory: a cancel or the no-show sweep leaves the rental alone meanwhile (one
    # that crashed mid-way lets go after PICKUP_CLAIM_SECONDS).
    pickup_claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    car_model = models.CharField(max_length=100, blank=True, default="", db_default="")
    car_plate = models.CharField(max_length=16, blank=True, default="", db_default="")
    # Money (v2): the quote a booking was made at, and its price then (minor units of `currency`).
    quote = models.ForeignKey(
        "pricing.Quote", null=True, blank=True, on_delete=models.PROTECT, related_name="rentals", editable=False
    )
    price = models.BigIntegerField(null=True, blank=True, editable=False)
    currency = models.CharField(max_length=3, blank=True, default="", db_default="", editable=False)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [
            models.Index(fields=["car_id", "-created_at"], name="rental_car_created_idx"),
            models.Index(fields=["status", "created_at"], name="rental_status_created_idx"),
            # The sweep's look for pending rentals nobody has touched for a while.
            models.Index(fields=["updated_at"], condition=Q(status="pending"), name="rental_pending_updated_idx"),
            # The no-show sweep, the front desk's day of pick-ups, and the overdue list.
            models.Index(fields=["pickup_at"], condition=Q(status="reserved"), name="rental_reserved_pickup_idx"),
            models.Index(fields=["return_at"], condition=Q(status="active"), name="rental_active_return_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=RentalStatus.values), name="rental_status_valid"),
            models.CheckConstraint(
                condition=Q(failure_code__isnull=True) | Q(failure_code__in=FailureCode.values),
                name="rental_failure_code_valid",
            ),
            # failed ⇔ it has a reason; started ⇔ it got the car; ended ⇔ completed.
            models.CheckConstraint(
                condition=Q(status=RentalStatus.FAILED, failure_code__isnull=False)
                | (~Q(status=RentalStatus.FAILED) & Q(failure_code__isnull=True)),
                name="rental_failure_code_iff_failed",
            ),
            # started (picked up) ⇔ active or completed.
            models.CheckConstraint(
                condition=Q(status__in=[RentalStatus.ACTIVE, RentalStatus.COMPLETED], started_at__isnull=False)
                | (~Q(status__in=[RentalStatus.ACTIVE, RentalStatus.COMPLETED]) & Q(started_at__isnull=True)),
                name="rental_started_iff_got_car",
            ),
            # Only a booking still being reserved (or failed) may lack its car; a booking ahead has its window.
            models.CheckConstraint(
                condition=Q(car_id__isnull=False) | Q(status__in=[RentalStatus.PENDING, RentalStatus.FAILED]),
                name="rental_car_unless_pending",
            ),
            models.CheckConstraint(
                condition=~Q(status=RentalStatus.RESERVED) | Q(pickup_at__isnull=False, return_at__isnull=False),
                name="rental_reserved_has_window",
            ),
            models.CheckConstraint(
                condition=Q(pickup_at__isnull=True)
                | Q(return_at__isnull=True)
                | Q(return_at__gt=models.F("pickup_at")),
                name="rental_returns_after_pickup",
            ),
            models.CheckConstraint(
                condition=Q(status=RentalStatus.COMPLETED, ended_at__isnull=False)
                | (~Q(status=RentalStatus.COMPLETED) & Q(ended_at__isnull=True)),
                name="rental_ended_iff_completed",
            ),
        ]

    def __str__(self) -> str:
        return f"Rental {self.id} ({self.status})"

    @property
    def is_booking(self) -> bool:
        """Booked ahead for a window (v2), rather than a walk-in that took its car at once."""
        return self.vehicle_class is not None or (self.pickup_at is not None and self.started_at is None)


class HandoverKind(models.TextChoices):
    OUT = "out", "Pick-up (car out)"
    IN = "in", "Return (car in)"


FUEL_FULL_EIGHTHS = 8


class Handover(models.Model):
    """The readings at pick-up (out) and at return (in): odometer, fuel in eighths, damage noted, by whom, when."""

    id = models.BigAutoField(primary_key=True)
    rental = models.ForeignKey(Rental, on_delete=models.CASCADE, related_name="handovers")
    kind = models.CharField(max_length=8, choices=HandoverKind.choices)
    odometer_km = models.PositiveIntegerField(null=True, blank=True)
    fuel_eighths = models.PositiveSmallIntegerField(null=True, blank=True)
    damage = models.TextField(blank=True, default="")
    location = models.CharField(max_length=32, null=True, blank=True)
    staff_user = models.CharField(max_length=150, blank=True, default="")
    at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        ordering = ["rental", "at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["rental", "kind"], name="handover_one_per_kind"),
            models.CheckConstraint(condition=Q(kind__in=HandoverKind.values), name="handover_kind_valid"),
            models.CheckConstraint(
                condition=Q(fuel_eighths__isnull=True) | Q(fuel_eighths__lte=FUEL_FULL_EIGHTHS),
                name="handover_fuel_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of rental {self.rental_id}"


class IdempotencyState(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    # Answered 503 (the outcome was unknown): a retry with this key carries on with the same rental and its id.
    RETRYABLE = "retryable", "Retryable (answered 503)"
    COMPLETED = "completed", "Completed"


class IdempotencyKey(models.Model):
    """The `Idempotency-Key` of a POST /rentals/ and the answer it got; kept 24 h (purged by the relay)."""

    key = models.CharField(max_length=255, primary_key=True)
    # sha256 of the canonical JSON of the validated body and the caller's user id.
    fingerprint = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=IdempotencyState.choices, default=IdempotencyState.IN_PROGRESS)
    # Set in the transaction that stores the pending rental, so a crash leaves a key the sweep can settle.
    rental = models.ForeignKey(Rental, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=IdempotencyState.values), name="idempotency_state_valid"),
            models.CheckConstraint(
                condition=Q(
                    state__in=[IdempotencyState.IN_PROGRESS, IdempotencyState.RETRYABLE], response_status__isnull=True
                )
                | Q(state=IdempotencyState.COMPLETED, response_status__isnull=False, completed_at__isnull=False),
                name="idempotency_response_iff_completed",
            ),
        ]

    def __str__(self) -> str:
        return f"Idempotency-Key {self.key} ({self.state})"


class OutboxKind(models.TextChoices):
    RELEASE = "release", "Release the car in inventory"
    PAYMENT = "payment", "Call the payment provider (capture, cancel, refund, void)"


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    DEAD = "dead", "Dead (refused for good)"


class OutboxMessage(models.Model):
    """A call inventory (or the payment provider) must receive, written in the same transaction as the change that
    needs it."""

    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=16, choices=OutboxKind.choices, default=OutboxKind.RELEASE)
    reservation_id = models.UUIDField(null=True, blank=True, help_text="The hold a release frees (releases only).")
    status = models.CharField(max_length=16, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # When the row is next due; while a relay holds it, the end of that relay's lease.
    next_attempt_at = models.DateTimeField(db_default=Now())  # the database's clock, which claims compare with
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # What the call carries beyond the id: a return's odometer reading and branch ({"odometer_km", "location"});
    # a payment's call ({"payment_id", "op", "amount"}).
    payload = models.JSONField(default=dict, blank=True, db_default=models.Value({}, output_field=models.JSONField()))

    class Meta:
        ordering = ["id"]
        verbose_name = "outbox message"
        indexes = [
            models.Index(
                fields=["next_attempt_at", "id"], condition=Q(status="pending"), name="outbox_pending_due_idx"
            ),
            models.Index(fields=["reservation_id"], name="outbox_reservation_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=OutboxKind.values), name="outbox_kind_valid"),
            models.CheckConstraint(
                condition=~Q(kind=OutboxKind.RELEASE) | Q(reservation_id__isnull=False), name="outbox_release_has_hold"
            ),
            models.CheckConstraint(condition=Q(status__in=OutboxStatus.values), name="outbox_status_valid"),
            models.CheckConstraint(
                condition=Q(status=OutboxStatus.DELIVERED, delivered_at__isnull=False)
                | (~Q(status=OutboxStatus.DELIVERED) & Q(delivered_at__isnull=True)),
                name="outbox_delivered_at_iff_delivered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.reservation_id} ({self.status})"
