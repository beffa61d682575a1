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
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class FailureCode(models.TextChoices):
    CAR_UNAVAILABLE = "car_unavailable", "Car unavailable"
    CAR_NOT_FOUND = "car_not_found", "Car not found"
    # The reserve call's outcome was unknown (inventory down, timed out, answered nonsense); a release was queued.
    INVENTORY_UNAVAILABLE = "inventory_unavailable", "Inventory unavailable"
    # Left `pending` (a crash, or a 503 nobody retried) and failed by the relay's sweep, which released its hold:
    # a pending rental never answered 201, so nobody was told it started.
    ABANDONED = "abandoned", "Abandoned (failed by the sweep, hold released)"


class Rental(models.Model):
    """A customer's use of a car. Its id is also the reservation id in inventory."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    car_id = models.UUIDField()
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

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [
            models.Index(fields=["car_id", "-created_at"], name="rental_car_created_idx"),
            models.Index(fields=["status", "created_at"], name="rental_status_created_idx"),
            # The sweep's look for pending rentals nobody has touched for a while.
            models.Index(fields=["updated_at"], condition=Q(status="pending"), name="rental_pending_updated_idx"),
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
            models.CheckConstraint(
                condition=Q(status__in=[RentalStatus.ACTIVE, RentalStatus.COMPLETED], started_at__isnull=False)
                | Q(status__in=[RentalStatus.PENDING, RentalStatus.FAILED], started_at__isnull=True),
                name="rental_started_iff_got_car",
            ),
            models.CheckConstraint(
                condition=Q(status=RentalStatus.COMPLETED, ended_at__isnull=False)
                | (~Q(status=RentalStatus.COMPLETED) & Q(ended_at__isnull=True)),
                name="rental_ended_iff_completed",
            ),
        ]

    def __str__(self) -> str:
        return f"Rental {self.id} ({self.status})"


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


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    DEAD = "dead", "Dead (refused by inventory)"


class OutboxMessage(models.Model):
    """A call inventory must receive, written in the same transaction as the change that needs it."""

    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=16, choices=OutboxKind.choices, default=OutboxKind.RELEASE)
    reservation_id = models.UUIDField()
    status = models.CharField(max_length=16, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # When the row is next due; while a relay holds it, the end of that relay's lease.
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

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
            models.CheckConstraint(condition=Q(status__in=OutboxStatus.values), name="outbox_status_valid"),
            models.CheckConstraint(
                condition=Q(status=OutboxStatus.DELIVERED, delivered_at__isnull=False)
                | (~Q(status=OutboxStatus.DELIVERED) & Q(delivered_at__isnull=True)),
                name="outbox_delivered_at_iff_delivered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.reservation_id} ({self.status})"
