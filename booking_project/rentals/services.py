"""Every write to rentals: start (through inventory's reservation API), end (through the outbox), and the
sweep that settles rentals a crash left `pending`.

Starting is three steps so no transaction is ever open across the call to inventory:
1. one transaction stores the `pending` rental (and claims the Idempotency-Key);
2. `InventoryClient.reserve(reservation_id=rental.id, …)` with nothing open;
3. one transaction settles the rental — `active`, or `failed` with its reason — and, when the outcome is
   unknown, queues a release in the outbox, so a hold that did get made is freed.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID, uuid4

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from drivenow_contracts import (
    CarNotFound,
    CarUnavailable,
    InventoryUnavailable,
    ReservationNotFound,
    ReservationState,
)

from customers.models import Customer, CustomerStatus
from drivenow_servicekit.errors import problem

from . import errors, metrics
from .idempotency import IdempotencyRequest, StoredResponse, idempotency_claim, idempotency_record
from .inventory import inventory_client
from .models import FailureCode, Rental, RentalStatus
from .outbox import outbox_enqueue_release, outbox_enqueue_release_sql

log = logging.getLogger(__name__)


class ReserveOutcome(StrEnum):
    HELD = "held"
    CAR_UNAVAILABLE = "car_unavailable"
    CAR_NOT_FOUND = "car_not_found"
    UNKNOWN = "unknown"  # inventory unreachable, timed out, or answered something unexpected


_FAILURE_OF: dict[ReserveOutcome, FailureCode] = {
    ReserveOutcome.CAR_UNAVAILABLE: FailureCode.CAR_UNAVAILABLE,
    ReserveOutcome.CAR_NOT_FOUND: FailureCode.CAR_NOT_FOUND,
    ReserveOutcome.UNKNOWN: FailureCode.INVENTORY_UNAVAILABLE,
}
# What a failed rental answers; failures not listed answer 503 (outcome unknown, nothing held).
_ERROR_OF: dict[str, type[errors.DomainError]] = {
    FailureCode.CAR_UNAVAILABLE: errors.CarUnavailable,
    FailureCode.CAR_NOT_FOUND: errors.CarNotFound,
}


def _no_transaction_open() -> None:
    if connection.in_atomic_block:
        raise RuntimeError("no database transaction may stay open across a call to inventory")


def rental_start(
    *,
    car_id: UUID,
    customer_id: UUID,
    expected_return_at: datetime | None = None,
    idempotency: IdempotencyRequest | None = None,
) -> Rental | StoredResponse:
    """Take the car for the customer through inventory. Returns the active rental, or the stored first answer
    when `idempotency` names a key already answered.

    Raises RentalCustomerNotFound, RentalCustomerInactive, CarUnavailable, CarNotFound, InventoryUnavailable
    (the rental is then failed and nothing stays held), IdempotencyKeyReused, IdempotencyKeyInUse.
    """
    _no_transaction_open()
    opened = _rental_open(
        car_id=car_id, customer_id=customer_id, expected_return_at=expected_return_at, idempotency=idempotency
    )
    if isinstance(opened, StoredResponse):
        return opened
    outcome = _reserve(opened)
    if outcome == ReserveOutcome.HELD and idempotency is None and _rental_activate(opened):
        return opened
    rental = _rental_settle(rental_id=opened.id, outcome=outcome, keyed=idempotency is not None)
    _raise_if_failed(rental)
    return rental


def _rental_activate(rental: Rental) -> bool:
    """Step 3 on the happy path, when no answer is to be stored for an Idempotency-Key: one conditional UPDATE
    (its own transaction) turns the pending rental active. False when it is not pending any more — the sweep
    settled it while inventory answered —, which `_rental_settle` then sorts out under a lock."""
    now = timezone.now()
    if not Rental.objects.filter(id=rental.id, status=RentalStatus.PENDING).update(
        status=RentalStatus.ACTIVE, started_at=now, updated_at=now
    ):
        return False
    rental.status, rental.started_at, rental.updated_at = RentalStatus.ACTIVE, now, now
    transaction.on_commit(metrics.rental_started)  # at once, unless a caller's transaction is still open
    return True


def _rental_open(
    *, car_id: UUID, customer_id: UUID, expected_return_at: datetime | None, idempotency: IdempotencyRequest | None
) -> Rental | StoredResponse:
    """Step 1: claim the key (first, so duplicates meet there), check the customer, store the pending rental."""
    if idempotency is None and (expected_return_at is None or expected_return_at > timezone.now()):
        opened = _rental_open_for_active_customer(car_id=car_id, customer_id=customer_id,
                                                  expected_return_at=expected_return_at)
        if opened is not None:
            return opened
    return _rental_open_checked(
        car_id=car_id, customer_id=customer_id, expected_return_at=expected_return_at, idempotency=idempotency
    )


def _rental_open_for_active_customer(
    *, car_id: UUID, customer_id: UUID, expected_return_at: datetime | None
) -> Rental | None:
    """The usual case in one statement (its own transaction): insert the pending rental if the customer is active,
    locking the customer's row as the checked path does, so a deactivation in flight is waited for and then
    seen. None when nothing was inserted; the checked path then says why."""
    now = timezone.now()
    opened = list(Rental.objects.raw(
        f"""INSERT INTO "{Rental._meta.db_table}"
            (id, car_id, customer_id, status, created_at, expected_return_at, updated_at)
        SELECT %(id)s, %(car_id)s, customer.id, %(pending)s, %(now)s, %(expected_return_at)s, %(now)s
        FROM "{Customer._meta.db_table}" AS customer
        WHERE customer.id = %(customer_id)s AND customer.status = %(active)s
        FOR NO KEY UPDATE
        RETURNING *""",
        {
            "id": uuid4(), "car_id": car_id, "customer_id": customer_id, "pending": RentalStatus.PENDING, "now": now,
            "expected_return_at": expected_return_at, "active": CustomerStatus.ACTIVE,
        },
    ))
    return opened[0] if opened else None


@transaction.atomic
def _rental_open_checked(
    *, car_id: UUID, customer_id: UUID, expected_return_at: datetime | None, idempotency: IdempotencyRequest | None
) -> Rental | StoredResponse:
    rental_id = uuid4()
    if idempotency is not None:
        replay = idempotency_claim(request=idempotency, rental_id=rental_id)
        if replay is not None:
            return replay
    # Locked so a concurrent deactivation cannot slip between this check and the insert.
    customer = Customer.objects.select_for_update(no_key=True).filter(id=customer_id).first()
    if customer is None:
        raise errors.RentalCustomerNotFound()
    if customer.status != CustomerStatus.ACTIVE:
        raise errors.RentalCustomerInactive()
    # Checked here rather than in the serializer so a replay of an old request still finds its stored answer.
    if expected_return_at is not None and expected_return_at <= timezone.now():
        raise ValidationError({"expected_return_at": ["The expected return must be in the future."]})
    return Rental.objects.create(
        id=rental_id, car_id=car_id, customer=customer, status=RentalStatus.PENDING,
        expected_return_at=expected_return_at,
    )


def _reserve(rental: Rental) -> ReserveOutcome:
    """Step 2: the call to inventory, with no transaction open. Every reply maps to an outcome; nothing raises."""
    _no_transaction_open()
    try:
        inventory_client().reserve(reservation_id=rental.id, car_id=rental.car_id)
    except CarUnavailable:
        return ReserveOutcome.CAR_UNAVAILABLE
    except CarNotFound:
        return ReserveOutcome.CAR_NOT_FOUND
    except InventoryUnavailable as exc:
        log.warning("reserve for rental %s: outcome unknown: %s", rental.id, exc)
        return ReserveOutcome.UNKNOWN
    except Exception:  # ReservationConflict, InventoryRejected, a malformed answer: treat as unknown, free it
        log.exception("reserve for rental %s: unexpected answer; treating the outcome as unknown", rental.id)
        return ReserveOutcome.UNKNOWN
    return ReserveOutcome.HELD


@transaction.atomic
def _rental_settle(*, rental_id: UUID, outcome: ReserveOutcome, keyed: bool = True) -> Rental:
    """Step 3: record what inventory said. Locks the rental; the sweep may have settled it meanwhile."""
    rental = Rental.objects.select_for_update().get(id=rental_id)
    if rental.status != RentalStatus.PENDING:
        # Settled by the sweep while we waited on inventory. If it failed the rental but we may hold the car,
        # free it again (release is idempotent).
        if rental.status == RentalStatus.FAILED and outcome in (ReserveOutcome.HELD, ReserveOutcome.UNKNOWN):
            outbox_enqueue_release(reservation_id=rental.id)
        return rental
    if outcome == ReserveOutcome.HELD:
        _mark_active(rental, keyed=keyed)
    else:
        _mark_failed(rental, _FAILURE_OF[outcome], release=outcome == ReserveOutcome.UNKNOWN, keyed=keyed)
    return rental


def _mark_active(rental: Rental, *, keyed: bool) -> None:
    """`keyed`: the start request may have an Idempotency-Key whose answer is stored now (unknown to the sweep:
    it says True). A request without one skips rendering and storing an answer nobody will ask for."""
    rental.status = RentalStatus.ACTIVE
    rental.started_at = timezone.now()
    rental.save(update_fields=["status", "started_at", "updated_at"])
    if keyed:
        idempotency_record(rental_id=rental.id, response=_start_answer(rental))
    transaction.on_commit(metrics.rental_started)


def _mark_failed(rental: Rental, failure: FailureCode, *, release: bool, keyed: bool) -> None:
    rental.status = RentalStatus.FAILED
    rental.failure_code = failure
    rental.save(update_fields=["status", "failure_code", "updated_at"])
    if release:
        outbox_enqueue_release(reservation_id=rental.id)
    if keyed:
        idempotency_record(rental_id=rental.id, response=_start_answer(rental))
    transaction.on_commit(lambda: metrics.rental_failed(failure))


def _start_answer(rental: Rental) -> StoredResponse | None:
    """What POST /rentals/ answers for this settled rental; None for an unknown outcome (not kept for replay)."""
    from .serializers import RentalOutput

    if rental.status == RentalStatus.ACTIVE:
        return StoredResponse(status=201, body=dict(RentalOutput(rental).data))
    error_type = _ERROR_OF.get(rental.failure_code or "")
    if error_type is None:
        return None
    error = error_type()
    return StoredResponse(status=error.http_status, body=problem(error.http_status, error.code, error.detail))


def _raise_if_failed(rental: Rental) -> None:
    if rental.status != RentalStatus.FAILED:
        return
    raise _ERROR_OF.get(rental.failure_code or "", errors.InventoryUnavailable)()


def rental_end(*, rental_id: UUID) -> Rental:
    """Complete the rental and, in the same transaction, queue the release of its car. Never calls inventory,
    so it works while inventory is down; ending a completed rental returns it unchanged."""
    ended = _rental_end_active(rental_id)
    if ended is not None:
        transaction.on_commit(metrics.rental_ended)  # at once, unless a caller's transaction is still open
        return ended
    return _rental_end_other(rental_id=rental_id)


def _rental_end_active(rental_id: UUID) -> Rental | None:
    """An active rental ends in one statement, so one round trip and its own transaction: complete it, queue the
    release of its car in the outbox and wake the relay (NOTIFY, sent at commit). None when it was not active."""
    now = timezone.now()
    queue_release, wake_relay, outbox_params = outbox_enqueue_release_sql(source="ended", now=now)
    ended = list(Rental.objects.raw(
        f"""WITH ended AS (
            UPDATE {Rental._meta.db_table} SET status = %(completed)s, ended_at = %(now)s, updated_at = %(now)s
            WHERE id = %(id)s AND status = %(active)s
            RETURNING *
        ), {queue_release}
        SELECT ended.*, {wake_relay} FROM ended""",
        {"id": rental_id, "now": now, "active": RentalStatus.ACTIVE, "completed": RentalStatus.COMPLETED,
         **outbox_params},
    ))
    return ended[0] if ended else None


@transaction.atomic
def _rental_end_other(*, rental_id: UUID) -> Rental:
    """Not active a moment ago: missing, completed already (answered unchanged), pending or failed (refused)
    — or active after all if it became so meanwhile."""
    rental = Rental.objects.select_for_update().filter(id=rental_id).first()
    if rental is None:
        raise errors.RentalNotFound()
    if rental.status == RentalStatus.COMPLETED:
        return rental
    if rental.status != RentalStatus.ACTIVE:
        raise errors.RentalNotActive(f"The rental is {rental.status}; only an active rental can be ended.")
    rental.status = RentalStatus.COMPLETED
    rental.ended_at = timezone.now()
    rental.save(update_fields=["status", "ended_at", "updated_at"])
    outbox_enqueue_release(reservation_id=rental.id)
    transaction.on_commit(metrics.rental_ended)
    return rental


@dataclass
class SweepReport:
    activated: int = 0
    failed: int = 0
    unreachable: int = 0


def rental_sweep_pending(
    *, older_than: timedelta, limit: int = 100, should_stop: Callable[[], bool] = lambda: False
) -> SweepReport:
    """Settle rentals left `pending` longer than `older_than` (a crash between reserve and commit) by asking
    inventory for their reservation: active → the rental is active; released or unknown → failed (`abandoned`),
    with a release queued in case a late reserve still lands; inventory down → left for the next sweep."""
    _no_transaction_open()
    report = SweepReport()
    cutoff = timezone.now() - older_than
    stale = list(
        Rental.objects.filter(status=RentalStatus.PENDING, created_at__lte=cutoff)
        .order_by("created_at")
        .values_list("id", "car_id")[:limit]
    )
    for index, (rental_id, car_id) in enumerate(stale):
        if should_stop():
            break
        try:
            reservation = inventory_client().get_reservation(rental_id)
        except ReservationNotFound:
            held = False
        except InventoryUnavailable as exc:
            log.warning("sweep: %d pending rental(s) wait for inventory (unavailable: %s)", len(stale) - index, exc)
            report.unreachable += len(stale) - index
            break  # the others would only wait out the same timeout
        except Exception:
            log.exception("sweep: rental %s stays pending, unexpected answer from inventory", rental_id)
            report.unreachable += 1
            continue
        else:
            held = reservation.state == ReservationState.ACTIVE and reservation.car_id == car_id
        if _rental_settle_swept(rental_id=rental_id, held=held) == RentalStatus.ACTIVE:
            report.activated += 1
        else:
            report.failed += 1
    return report


@transaction.atomic
def _rental_settle_swept(*, rental_id: UUID, held: bool) -> str:
    rental = Rental.objects.select_for_update().get(id=rental_id)
    if rental.status != RentalStatus.PENDING:
        return rental.status  # its own request settled it meanwhile
    if held:
        _mark_active(rental, keyed=True)
        log.info("sweep: rental %s was held in inventory; now active", rental_id)
    else:
        _mark_failed(rental, FailureCode.ABANDONED, release=True, keyed=True)
        log.info("sweep: rental %s had no hold in inventory; failed (abandoned)", rental_id)
    return rental.status
