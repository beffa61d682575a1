"""The fake provider (BOOKING_PAYMENT_PROVIDER=fake, the default): in-process, deterministic, no network.

What a payment does is scripted by its payment method (the card token):

| method | authorize | later |
| --- | --- | --- |
| "" (none), `tok_visa`, `tok_mastercard` | authorised (a deposit) or taken (a charge) | |
| `tok_decline` | declined `card_declined` | |
| `tok_insufficient_funds` | declined `insufficient_funds` | |
| `tok_3ds` | requires action (3-D Secure) | `confirm_3ds(ref)` authorises it |
| `tok_expired` | authorised | its capture is refused: `authorization_expired` |
| `tok_timeout` | the intent is made, but the answer is lost (ProviderUnavailable) | |
| anything else | declined `invalid_payment_method` | |

`BOOKING_PAYMENT_FAKE_OUTAGE=true` makes every call fail as if the provider were down. Its book (FakeIntent) is in
booking's database, so the gunicorn workers and the relay see one provider. Webhooks are signed like Stripe's
(`t=<unix time>,v1=<HMAC-SHA256>`) with BOOKING_PAYMENT_WEBHOOK_SECRET in a `Fake-Signature` header; `event()`
makes one, so a test can send them late, twice or out of order."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Mapping

from django.conf import settings
from django.db import IntegrityError, transaction

from ..models import FakeIntent, FakeOperation
from .base import (
    Intent,
    IntentStatus,
    ProviderDeclined,
    ProviderRefused,
    ProviderUnavailable,
    WebhookEvent,
)
from .webhooks import signed_event

SIGNATURE_HEADER = "Fake-Signature"
APPROVED = frozenset({"", "tok_visa", "tok_mastercard", "tok_3ds", "tok_expired", "tok_timeout"})
DECLINES = {"tok_decline": "card_declined", "tok_insufficient_funds": "insufficient_funds"}


class FakeProvider:
    name = "fake"
    needs_method = False

    def authorize(
        self,
        *,
        amount: int,
        currency: str,
        method: str,
        capture: bool,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> Intent:
        _outage()
        if method in DECLINES or method not in APPROVED:
            raise ProviderDeclined("The card was declined.", code=DECLINES.get(method, "invalid_payment_method"))
        status = IntentStatus.REQUIRES_ACTION if method == "tok_3ds" else IntentStatus.AUTHORIZED
        if capture and status == IntentStatus.AUTHORIZED:
            status = IntentStatus.SUCCEEDED
        try:
            with transaction.atomic():
                row = FakeIntent.objects.create(
                    ref=f"fake_pi_{uuid.uuid4().hex}",
                    idempotency_key=idempotency_key,
                    method=method,
                    status=status,
                    amount=amount,
                    currency=currency,
                    received=amount if status == IntentStatus.SUCCEEDED else 0,
                    captures=1 if status == IntentStatus.SUCCEEDED else 0,
                )
        except IntegrityError:  # the same key again: answered as the first call was
            row = FakeIntent.objects.get(idempotency_key=idempotency_key)
        if method == "tok_timeout" and row.status == IntentStatus.AUTHORIZED and not _seen(idempotency_key):
            raise ProviderUnavailable("The provider did not answer in time (tok_timeout).")
        return _intent(row)

    def capture(self, *, ref: str, amount: int, idempotency_key: str) -> Intent:
        _outage()
        with transaction.atomic():
            row = _locked(ref)
            if not _first(idempotency_key, ref, "capture"):
                return _intent(row)
            expired = row.method == "tok_expired" and row.status == IntentStatus.AUTHORIZED
            if expired:  # the authorisation lapsed before the capture: the provider releases it
                row.status = IntentStatus.CANCELED
                row.save(update_fields=["status"])
            else:
                if row.status != IntentStatus.AUTHORIZED or row.captures:
                    raise ProviderRefused(f"This payment is {row.status}; it cannot be captured.", code="intent_state")
                if not 0 < amount <= row.amount:
                    raise ProviderRefused("The amount is more than was authorised.", code="amount_too_large")
                row.status, row.received, row.captures = IntentStatus.SUCCEEDED, amount, 1
                row.save(update_fields=["status", "received", "captures"])
        if expired:
            raise ProviderRefused("The authorisation has expired.", code="authorization_expired")
        return _intent(row)

    def cancel(self, *, ref: str, idempotency_key: str) -> Intent:
        _outage()
        with transaction.atomic():
            row = _locked(ref)
            if not _first(idempotency_key, ref, "cancel"):
                return _intent(row)
            if row.status in (IntentStatus.SUCCEEDED, IntentStatus.FAILED):
                raise ProviderRefused(f"This payment is {row.status}; it cannot be cancelled.", code="intent_state")
            row.status = IntentStatus.CANCELED
            row.save(update_fields=["status"])
        return _intent(row)

    def refund(self, *, ref: str, amount: int, idempotency_key: str) -> Intent:
        _outage()
        with transaction.atomic():
            row = _locked(ref)
            if not _first(idempotency_key, ref, "refund"):
                return _intent(row)
            if row.status != IntentStatus.SUCCEEDED:
                raise ProviderRefused(f"This payment is {row.status}; nothing to refund.", code="intent_state")
            if not 0 < amount <= row.received - row.refunded:
                raise ProviderRefused("The refund is more than is left.", code="amount_too_large")
            row.refunded += amount
            row.save(update_fields=["refunded"])
        return _intent(row)

    def retrieve(self, *, ref: str) -> Intent:
        _outage()
        row = FakeIntent.objects.filter(ref=ref).first()
        if row is None:
            raise ProviderRefused("No such payment at the provider.", code="resource_missing")
        return _intent(row)

    def parse_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        return signed_event(body, headers, header=SIGNATURE_HEADER)

    # Test and demo scripting: what the customer and the provider do on their side.

    def confirm_3ds(self, ref: str) -> Intent:
        """The customer confirmed with their bank: the intent is authorised."""
        with transaction.atomic():
            row = _locked(ref)
            if row.status == IntentStatus.REQUIRES_ACTION:
                row.status = IntentStatus.AUTHORIZED
                row.save(update_fields=["status"])
        return _intent(row)


def event(kind: str, ref: str, *, event_id: str | None = None) -> bytes:
    """The body of a webhook the fake provider would send about `ref`."""
    obj = {"object": "charge", "payment_intent": ref} if kind.startswith("charge.") else {"object": "payment_intent"}
    if not kind.startswith("charge."):
        obj["id"] = ref
    body = {"id": event_id or f"evt_{uuid.uuid4().hex}", "type": kind, "data": {"object": obj}}
    return json.dumps(body).encode()


def signature(body: bytes, secret: str, *, at: int | None = None) -> str:
    """The signature header of `body` (Stripe's scheme): what the provider sends and the webhook checks."""
    timestamp = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def _outage() -> None:
    if settings.BOOKING_PAYMENT_FAKE_OUTAGE:
        raise ProviderUnavailable("The fake provider is down (BOOKING_PAYMENT_FAKE_OUTAGE).")


def _locked(ref: str) -> FakeIntent:
    row = FakeIntent.objects.select_for_update().filter(ref=ref).first()
    if row is None:
        raise ProviderRefused("No such payment at the provider.", code="resource_missing")
    return row


def _first(idempotency_key: str, ref: str, operation: str) -> bool:
    """Whether this is the first call with `idempotency_key` (recorded now); a repeat does nothing more."""
    _, created = FakeOperation.objects.get_or_create(
        idempotency_key=idempotency_key, defaults={"ref": ref, "operation": operation}
    )
    return created


def _seen(idempotency_key: str) -> bool:
    """A tok_timeout authorisation loses its first answer only: a retry with its key is answered."""
    _, created = FakeOperation.objects.get_or_create(
        idempotency_key=f"{idempotency_key}:answered", defaults={"ref": "", "operation": "authorize"}
    )
    return not created


def _intent(row: FakeIntent) -> Intent:
    return Intent(
        ref=row.ref,
        status=IntentStatus(row.status),
        amount=row.amount,
        currency=row.currency,
        received=row.received,
        refunded=row.refunded,
        next_action_url=f"/fake-3ds/{row.ref}" if row.status == IntentStatus.REQUIRES_ACTION else "",
    )
