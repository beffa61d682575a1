"""Payments: what booking asked a provider for, and what the provider said.

A `Payment` is one authorisation or charge of one rental's card, with amounts guarded by the database: captured
never above what was authorised, refunded never above what was captured, and at most one live (authorising,
awaiting the customer, or authorised) payment per rental and purpose. Its `PaymentEvent`s are its history: each
call booking made and each webhook the provider sent (once per provider event id)."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import F, Q


class Purpose(models.TextChoices):
    DEPOSIT = "deposit", "Deposit (authorised, captured at the return)"
    CHARGE = "charge", "Charge (taken at once)"


class PaymentStatus(models.TextChoices):
    AUTHORIZING = "authorizing", "Authorising"  # the row exists; the provider has not answered yet
    REQUIRES_ACTION = "requires_action", "Requires the customer (3-D Secure)"
    AUTHORIZED = "authorized", "Authorised"
    CAPTURED = "captured", "Captured"
    CANCELLED = "cancelled", "Cancelled"
    DECLINED = "declined", "Declined"
    EXPIRED = "expired", "Authorisation expired"
    FAILED = "failed", "Failed (the provider did not answer; voided)"


LIVE_STATUSES = (PaymentStatus.AUTHORIZING, PaymentStatus.REQUIRES_ACTION, PaymentStatus.AUTHORIZED)


class Payment(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    rental = models.ForeignKey("rentals.Rental", on_delete=models.PROTECT, related_name="payments")
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    provider = models.CharField(max_length=16)
    ref = models.CharField(max_length=255, blank=True, default="", help_text="The provider's id of the payment.")
    status = models.CharField(max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.AUTHORIZING)
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField(help_text="Minor units asked for: authorised (a deposit) or charged.")
    captured = models.BigIntegerField(default=0)
    refunded = models.BigIntegerField(default=0)
    # What booking has asked for through the outbox and the provider may not have done yet.
    refund_requested = models.BigIntegerField(default=0)
    closing = models.CharField(
        max_length=16, blank=True, default="", help_text="A capture or cancel queued for this authorisation."
    )
    decline_code = models.CharField(max_length=64, blank=True, default="")
    next_action_url = models.CharField(max_length=500, blank=True, default="")
    idempotency_key = models.CharField(max_length=255, blank=True, default="")
    created_by = models.CharField(max_length=150, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["provider", "ref"], name="payment_provider_ref_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(purpose__in=Purpose.values), name="payment_purpose_valid"),
            models.CheckConstraint(condition=Q(status__in=PaymentStatus.values), name="payment_status_valid"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(condition=Q(captured__gte=0, captured__lte=F("amount")), name="payment_captured"),
            models.CheckConstraint(
                condition=Q(refunded__gte=0, refunded__lte=F("captured")), name="payment_refunded_le_captured"
            ),
            models.CheckConstraint(
                condition=Q(refund_requested__gte=F("refunded"), refund_requested__lte=F("captured")),
                name="payment_refund_requested",
            ),
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="payment_currency_code"),
            models.CheckConstraint(condition=Q(closing__in=["", "capture", "cancel"]), name="payment_closing_valid"),
            models.UniqueConstraint(
                fields=["rental", "purpose"],
                condition=Q(status__in=LIVE_STATUSES),
                name="payment_one_live_per_purpose",
            ),
            models.UniqueConstraint(
                fields=["rental", "idempotency_key"], condition=~Q(idempotency_key=""), name="payment_key_unique"
            ),
            models.UniqueConstraint(
                fields=["provider", "ref"], condition=~Q(ref=""), name="payment_provider_ref_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} {self.amount} {self.currency} ({self.status})"


class PaymentEvent(models.Model):
    """One call booking made to the provider, or one webhook the provider sent (unique by its event id)."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="events", null=True, blank=True)
    provider = models.CharField(max_length=16)
    source = models.CharField(max_length=16, help_text="`call` (booking asked) or `webhook` (the provider said).")
    kind = models.CharField(max_length=64, help_text="The operation, or the webhook's event type.")
    event_id = models.CharField(max_length=255, blank=True, default="", help_text="The provider's event id.")
    outcome = models.CharField(max_length=32, blank=True, default="")
    amount = models.BigIntegerField(null=True, blank=True)
    detail = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "event_id"], condition=~Q(event_id=""), name="payment_event_once"
            ),
            models.CheckConstraint(condition=Q(source__in=["call", "webhook"]), name="payment_event_source_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.kind} {self.outcome}"


class FakeIntent(models.Model):
    """The fake provider's own book (BOOKING_PAYMENT_PROVIDER=fake): what a real provider would keep on its side.
    In booking's database so every process (gunicorn workers, the relay) sees one provider; never used by stripe."""

    ref = models.CharField(primary_key=True, max_length=64)
    idempotency_key = models.CharField(max_length=255, unique=True)
    method = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=16)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    received = models.BigIntegerField(default=0)
    refunded = models.BigIntegerField(default=0)
    captures = models.PositiveIntegerField(default=0, help_text="Captures done: a capture happens at most once.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "fake provider intent"

    def __str__(self) -> str:
        return f"{self.ref} {self.status}"


class FakeOperation(models.Model):
    """Idempotency of the fake provider's capture, cancel and refund: a call repeated with its key is answered
    as the first one was, and does nothing more."""

    idempotency_key = models.CharField(primary_key=True, max_length=255)
    ref = models.CharField(max_length=64)
    operation = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)
