"""Helpers of the payments tests: rentals with a price, the relay run once, webhooks signed as the fake signs."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db.models.functions import Now
from django.utils import timezone

from payments.providers import fake
from rentals.models import OutboxKind, OutboxMessage, OutboxStatus, Rental, RentalStatus
from rentals.relay import OutboxRelay, RelaySettings


def priced_rental(customer, *, price: int = 10_000, currency: str = "EUR", status: str = RentalStatus.RESERVED):
    """A booking whose ledger totals `price` (its lines are not needed by payments, only its price)."""
    start = timezone.now() + timedelta(days=3)
    return Rental.objects.create(
        car_id=uuid.uuid4(),
        customer=customer,
        status=status,
        started_at=timezone.now() if status in (RentalStatus.ACTIVE, RentalStatus.COMPLETED) else None,
        ended_at=timezone.now() if status == RentalStatus.COMPLETED else None,
        pickup_at=start,
        return_at=start + timedelta(days=1),
        pickup_location="LON",
        vehicle_class="ECON",
        price=price,
        currency=currency,
    )


def relay_once() -> None:
    """Deliver every payment call that is due, as the relay would (retries made due at once)."""
    OutboxMessage.objects.filter(kind=OutboxKind.PAYMENT, status=OutboxStatus.PENDING).update(next_attempt_at=Now())
    OutboxRelay(RelaySettings.from_settings()).deliver_due()


def pending_calls() -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(kind=OutboxKind.PAYMENT, status=OutboxStatus.PENDING))


def send_webhook(client, kind: str, ref: str, *, event_id: str | None = None, secret: str | None = None):
    body = fake.event(kind, ref, event_id=event_id)
    header = fake.signature(body, secret or settings.BOOKING_PAYMENT_WEBHOOK_SECRET)
    return client.post(
        "/api/v1/payments/webhooks/fake/", body, content_type="application/json", HTTP_FAKE_SIGNATURE=header
    )
