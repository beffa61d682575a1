"""The outbox: calls inventory (releases) and the payment provider (captures, cancels, refunds) must receive,
written in the transaction of the change that needs them, and their delivery by the relay
(`manage.py run_outbox_relay`). A payment call's outcome is decided by payments.services.payment_deliver (the
provider down: retried; refused for good: dead); what follows is about releases.

A relay claims due rows with SELECT … FOR UPDATE SKIP LOCKED and, in that same short transaction, moves their
`next_attempt_at` to the end of a lease; it then calls inventory with no transaction open and records the
result only if the row still carries its lease (a fencing token). So two relays never deliver one row at the
same time, and a relay that died mid-delivery gives the row back when the lease runs out.

Failures: inventory unreachable, 5xx, 401/403/408/429 → retried with exponential backoff and jitter, forever;
404 `reservation_not_found` → delivered with a note: inventory never held the id, and its release spent it (a
tombstone), so a reserve that timed out on our side and lands later is refused — nothing can be left to free;
409 `odometer_decrease` (the return's reading is below the car's odometer, a slip at the desk) → released again
without the reading, with a note: the car is back, and the handover keeps what was read;
any other 4xx → dead, logged, and left for a human (admin: "retry now").
Due times and leases are on the database's clock, so relays and services on hosts whose clocks disagree agree
on when a row is due.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import connection, transaction
from django.db.models.functions import Now
from django.utils import timezone

from drivenow_contracts import (
    ContractError,
    ErrorCode,
    InventoryClient,
    InventoryRejected,
    InventoryUnavailable,
    ReservationNotFound,
)

from .inventory import inventory_client
from .models import OutboxKind, OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "booking_outbox"
# Refusals that are about the caller's situation (credentials, rate), not about the message: retry, never dead.
TRANSIENT_4XX = frozenset({401, 403, 408, 425, 429})


class Delivery(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    DEAD = "dead"
    LEASE_LOST = "lease_lost"


@dataclass(frozen=True)
class Claim:
    """A row this relay holds until `lease_until` (also its fencing token)."""

    message_id: int
    kind: str
    reservation_id: UUID | None
    attempts: int
    created_at: datetime
    lease_until: datetime
    payload: dict[str, Any] = field(default_factory=dict)


def outbox_enqueue_release(*, reservation_id: UUID, unless_picked_up: bool = False) -> OutboxMessage:
    """Queue a release of this reservation. Inside the caller's transaction: the row commits with the change.
    `unless_picked_up` (a cancel, a no-show): inventory refuses it for a car that has left, and the message is
    dead, for a person to look at, rather than freeing a car that is out with a customer."""
    if not connection.in_atomic_block:
        raise RuntimeError("an outbox message is written in the transaction of the change that needs it")
    payload = {"unless_picked_up": True} if unless_picked_up else {}
    message = OutboxMessage.objects.create(kind=OutboxKind.RELEASE, reservation_id=reservation_id, payload=payload)
    with connection.cursor() as cursor:
        cursor.execute(f"NOTIFY {NOTIFY_CHANNEL}")  # sent at commit: wakes a listening relay at once
    return message


def outbox_enqueue_payment(*, payload: dict[str, Any], due_in: float = 0) -> OutboxMessage:
    """Queue a call to the payment provider, inside the caller's transaction; its row id is the call's idempotency
    key, so a retried delivery never charges twice. `due_in`: seconds before it is due (a standby void)."""
    if not connection.in_atomic_block:
        raise RuntimeError("an outbox message is written in the transaction of the change that needs it")
    message = OutboxMessage(kind=OutboxKind.PAYMENT, payload=payload)
    if due_in:
        message.next_attempt_at = Now() + timedelta(seconds=due_in)
    message.save(force_insert=True)
    with connection.cursor() as cursor:
        cursor.execute(f"NOTIFY {NOTIFY_CHANNEL}")
    return message


@transaction.atomic
def outbox_claim_due(*, limit: int, lease: timedelta) -> list[Claim]:
    """Claim up to `limit` due rows for `lease`. Due-ness and leases use the database's clock, so relays on
    hosts whose clocks disagree still never hold one row at the same time."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        now = cursor.fetchone()[0]
    rows = list(
        OutboxMessage.objects.select_for_update(skip_locked=True)
        .filter(status=OutboxStatus.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")[:limit]
    )
    lease_until = now + lease
    OutboxMessage.objects.filter(id__in=[row.id for row in rows]).update(next_attempt_at=lease_until)
    return [
        Claim(row.id, row.kind, row.reservation_id, row.attempts, row.created_at, lease_until, row.payload or {})
        for row in rows
    ]


@transaction.atomic
def outbox_claim(*, message_id: int, lease: timedelta) -> Claim | None:
    """Claim this one row (pending, and not leased to a relay that is delivering it) for `lease`; None if it is
    not to be had. What a request uses to deliver at once the release it just queued."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        now = cursor.fetchone()[0]
    row = (
        OutboxMessage.objects.select_for_update(skip_locked=True)
        .filter(id=message_id, status=OutboxStatus.PENDING, next_attempt_at__lte=now)
        .first()
    )
    if row is None:
        return None
    lease_until = now + lease
    OutboxMessage.objects.filter(id=row.id).update(next_attempt_at=lease_until)
    return Claim(row.id, row.kind, row.reservation_id, row.attempts, row.created_at, lease_until, row.payload or {})


def outbox_deliver_claimed_now(
    *, message_id: int, client: InventoryClient | None = None, lease_seconds: float | None = None
) -> Delivery | str:
    """Claim the row a request just queued and deliver it once with `client` (a short timeout); "taken" when a
    relay has it already. What is not delivered stays the relay's, as every row is. `lease_seconds`: longer than
    the call can take (a payment call's timeout), so no relay takes the row while it is in flight."""
    lease = lease_seconds if lease_seconds is not None else settings.BOOKING_RELEASE_NOW_LEASE_SECONDS
    claim = outbox_claim(message_id=message_id, lease=timedelta(seconds=lease))
    if claim is None:
        return "taken"
    return outbox_deliver(claim=claim, client=client)


def outbox_return_claims(*, claims: list[Claim]) -> None:
    """Give rows back at once (a relay shutting down), instead of letting their leases run out."""
    for claim in claims:
        _held(claim).update(next_attempt_at=Now())


def outbox_deliver(*, claim: Claim, client: InventoryClient | None = None) -> Delivery:
    """Send one claimed message to inventory (never inside a transaction) and record the outcome. `client`:
    another than the relay's (a request delivering at once uses one with a short timeout)."""
    if connection.in_atomic_block:
        raise RuntimeError("no database transaction may stay open across a call to inventory")
    if claim.kind == OutboxKind.PAYMENT:
        return _deliver_payment(claim)
    assert claim.kind == OutboxKind.RELEASE and claim.reservation_id is not None
    readings = {
        name: claim.payload[name] for name in ("odometer_km", "location", "unless_picked_up") if name in claim.payload
    }
    try:
        note = _release(client or inventory_client(), claim.reservation_id, readings)
    except ReservationNotFound:
        return _delivered(claim, note="inventory never held this reservation; the release spent its id")
    except InventoryUnavailable as exc:
        return _retry(claim, f"inventory unavailable: {exc}")
    except InventoryRejected as exc:
        if exc.status in TRANSIENT_4XX:
            return _retry(claim, f"inventory refused ({exc.status} {exc.raw_code}): {exc.detail}")
        return _dead(claim, f"inventory refused for good ({exc.status} {exc.raw_code}): {exc.detail}")
    except ContractError as exc:  # a typed answer a release never gives: not something a retry will change
        return _dead(claim, f"unexpected answer to a release ({exc.status} {exc.code}): {exc.detail}")
    except Exception as exc:  # a malformed answer, a bug: keep the message, try again later
        log.exception("outbox message %s: delivery crashed", claim.message_id)
        return _retry(claim, f"{exc.__class__.__name__}: {exc}")
    return _delivered(claim, note=note)


def _deliver_payment(claim: Claim) -> Delivery:
    from payments.services import payment_deliver

    try:
        outcome, note = payment_deliver(message_id=claim.message_id, payload=claim.payload, held=_held(claim))
    except Exception as exc:  # a bug, the database: keep the message, try again later
        log.exception("outbox message %s: payment delivery crashed", claim.message_id)
        return _retry(claim, f"{exc.__class__.__name__}: {exc}")
    if outcome == "delivered":
        return _delivered(claim, note=note)
    if outcome == "retry":
        return _retry(claim, note)
    return _dead(claim, note)


def _release(client: InventoryClient, reservation_id: UUID, readings: dict[str, Any]) -> str:
    """Release the hold with the return's readings; returns a note when one had to be left out. An odometer read
    below the car's (it never goes down) is a slip at the desk, not a reason to keep the car out for good: dead,
    the release would leave inventory holding a car booking has completed. So it is sent again without it."""
    try:
        client.release(reservation_id, **readings)
    except InventoryRejected as exc:
        if exc.raw_code != ErrorCode.ODOMETER_DECREASE or "odometer_km" not in readings:
            raise
        client.release(reservation_id, **{name: value for name, value in readings.items() if name != "odometer_km"})
        return f"released without the odometer reading {readings['odometer_km']} km: {exc.detail}"
    return ""


def outbox_deliver_now(
    *,
    message_id: int,
    reservation_id: UUID,
    created_at: datetime,
    lease_until: datetime,
    client: InventoryClient,
    payload: dict[str, Any] | str | None = None,
) -> Delivery:
    """Deliver a release whose row was queued leased to the caller (`lease_until`, its first attempt), as a request
    does right after the change that queued it; the relay takes the row over once the lease runs out."""
    if isinstance(payload, str):  # read by a raw statement, past JSONField's decoding
        payload = json.loads(payload)
    claim = Claim(message_id, OutboxKind.RELEASE, reservation_id, 0, created_at, lease_until, payload or {})
    return outbox_deliver(claim=claim, client=client)


def backoff_delay(attempts: int) -> float:
    """Seconds before the next try after `attempts` failed ones: capped exponential, with jitter (0.5–1×)."""
    base, cap = settings.BOOKING_OUTBOX_BACKOFF_BASE, settings.BOOKING_OUTBOX_BACKOFF_CAP
    return min(cap, base * 2 ** max(0, attempts - 1)) * random.uniform(0.5, 1.0)


def _held(claim: Claim):  # type: ignore[no-untyped-def]
    return OutboxMessage.objects.filter(
        id=claim.message_id, status=OutboxStatus.PENDING, next_attempt_at=claim.lease_until
    )


def _record(claim: Claim, outcome: Delivery, **fields: object) -> Delivery:
    if _held(claim).update(attempts=claim.attempts + 1, **fields) == 0:
        # Our lease ran out and another relay took the row; it will record its own result (release is idempotent).
        log.warning("outbox message %s: lease lost before recording %s", claim.message_id, outcome)
        return Delivery.LEASE_LOST
    return outcome


def _delivered(claim: Claim, note: str = "") -> Delivery:
    if note:
        log.info("outbox message %s (%s %s): %s", claim.message_id, claim.kind, claim.reservation_id, note)
    return _record(
        claim, Delivery.DELIVERED, status=OutboxStatus.DELIVERED, delivered_at=timezone.now(), last_error=note
    )


def _retry(claim: Claim, error: str) -> Delivery:
    delay = backoff_delay(claim.attempts + 1)
    log.warning(
        "outbox message %s (%s %s): attempt %d failed, next in %.1fs: %s",
        claim.message_id,
        claim.kind,
        claim.reservation_id,
        claim.attempts + 1,
        delay,
        error,
    )
    next_at = Now() + timedelta(seconds=delay)
    return _record(claim, Delivery.RETRY, next_attempt_at=next_at, last_error=error[:2000])


def _dead(claim: Claim, error: str) -> Delivery:
    log.error("outbox message %s (%s %s) is dead: %s", claim.message_id, claim.kind, claim.reservation_id, error)
    return _record(claim, Delivery.DEAD, status=OutboxStatus.DEAD, last_error=error[:2000])


def outbox_retry_now(*, message_ids: list[int]) -> int:
    """Make undelivered messages (pending or dead) due now; the admin's "retry now". A dead payment call is not
    retried: the provider refused it for good, and what it asked for was given back to the payment (a refund's
    amount may have been refunded since by another call) — a person makes a new one through the API."""
    return (
        OutboxMessage.objects.filter(id__in=message_ids)
        .exclude(status=OutboxStatus.DELIVERED)
        .exclude(kind=OutboxKind.PAYMENT, status=OutboxStatus.DEAD)
        .update(status=OutboxStatus.PENDING, next_attempt_at=Now())
    )


def outbox_purge_delivered(*, older_than: timedelta) -> int:
    deleted, _ = OutboxMessage.objects.filter(
        status=OutboxStatus.DELIVERED, delivered_at__lt=timezone.now() - older_than
    ).delete()
    return deleted
