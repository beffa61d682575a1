"""Every write to rentals: start (through inventory's reservation API), end (through the outbox, delivered at
once when inventory answers), and the sweep that fails rentals left `pending`.

Starting is three steps so no transaction is ever open across the call to inventory:
1. one transaction stores the `pending` rental (and claims the Idempotency-Key);
2. `InventoryClient.reserve(reservation_id=rental.id, …)` with nothing open;
3. one transaction settles the rental — `active`, or `failed` with its reason — and, when the outcome is
   unknown, queues a release in the outbox, so a hold that did get made is freed. With an Idempotency-Key an
   unknown outcome leaves the rental pending instead: the retry carries on with it (idempotency.py).

201 is answered only after the activation commits, so a rental still `pending` has never been reported started:
the sweep fails it and releases its hold, whatever inventory holds for it.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID, uuid4

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models.functions import Now
from django.utils import timezone

from customers.models import Customer, CustomerStatus
from drivenow_contracts import CarNotFound, CarUnavailable, InventoryUnavailable, ReservationConflict

from . import errors, metrics, statements
from .idempotency import (
    IdempotencyRequest,
    Resumed,
    StoredResponse,
    idempotency_claim,
    idempotency_keep_for_retry,
    idempotency_record,
)
from .inventory import inventory_client, inventory_release_client
from .models import FailureCode, Rental, RentalStatus
from .outbox import NOTIFY_CHANNEL, outbox_deliver_now, outbox_enqueue_release

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

    Raises RentalCustomerNotFound, RentalCustomerInactive, RentalCarUnavailable, RentalCarNotFound,
    RentalInventoryUnavailable (the rental is then failed and nothing stays held; with a key it stays pending for
    the retry), IdempotencyKeyReused, IdempotencyKeyInUse.
    """
    _no_transaction_open()
    opened = _rental_open(
        car_id=car_id, customer_id=customer_id, expected_return_at=expected_return_at, idempotency=idempotency
    )
    if isinstance(opened, StoredResponse):
        return opened
    outcome = _reserve(opened)
    if outcome == ReserveOutcome.HELD and _rental_activate(opened, idempotency=idempotency):
        return opened
    rental = _rental_settle(rental_id=opened.id, outcome=outcome, idempotency=idempotency)
    _raise_if_failed(rental)
    return rental


def _rental_activate(rental: Rental, *, idempotency: IdempotencyRequest | None) -> bool:
    """Step 3 when inventory holds the car: one conditional UPDATE turns the pending rental active — the only
    statement that does — and, with an Idempotency-Key, the key's answer is stored in the same transaction.
    False when the rental is not pending any more (the sweep failed it while inventory answered)."""
    now = timezone.now()
    with transaction.atomic() if idempotency is not None else nullcontext():
        if not Rental.objects.filter(id=rental.id, status=RentalStatus.PENDING).update(
            status=RentalStatus.ACTIVE, started_at=now, updated_at=Now()
        ):
            return False
        rental.status, rental.started_at = RentalStatus.ACTIVE, now
        if idempotency is not None:
            idempotency_record(rental=rental, request=idempotency)
    transaction.on_commit(metrics.rental_started)  # at once, unless a caller's transaction is still open
    return True


def _rental_open(
    *, car_id: UUID, customer_id: UUID, expected_return_at: datetime | None, idempotency: IdempotencyRequest | None
) -> Rental | StoredResponse:
    """Step 1: claim the key (first, so duplicates meet there), check the customer, store the pending rental."""
    if idempotency is None and (expected_return_at is None or expected_return_at > timezone.now()):
        opened = _rental_open_for_active_customer(
            car_id=car_id, customer_id=customer_id, expected_return_at=expected_return_at
        )
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
    opened = list(
        Rental.objects.raw(
            statements.RENTAL_OPEN_FOR_ACTIVE_CUSTOMER,
            {
                **statements.PARAMS,
                "id": uuid4(),
                "car_id": car_id,
                "customer_id": customer_id,
                "now": now,
                "expected_return_at": expected_return_at,
            },
        )
    )
    return opened[0] if opened else None


@transaction.atomic
def _rental_open_checked(
    *, car_id: UUID, customer_id: UUID, expected_return_at: datetime | None, idempotency: IdempotencyRequest | None
) -> Rental | StoredResponse:
    rental_id = uuid4()
    resumed: Resumed | None = None
    if idempotency is not None:
        claimed = idempotency_claim(request=idempotency, rental_id=rental_id)
        if isinstance(claimed, StoredResponse):
            return claimed
        resumed = claimed
    # Locked so a concurrent deactivation cannot slip between this check and the insert.
    customer = Customer.objects.select_for_update(no_key=True).filter(id=customer_id).first()
    if customer is None:
        raise errors.RentalCustomerNotFound()
    if customer.status != CustomerStatus.ACTIVE:
        raise errors.RentalCustomerInactive()
    # Checked here rather than in the serializer so a replay of an old request still finds its stored answer.
    if expected_return_at is not None and expected_return_at <= timezone.now():
        raise ValidationError({"expected_return_at": ["The expected return must be in the future."]})
    if resumed is not None:
        return Rental.objects.get(id=resumed.rental_id)  # the same body, so the same car and customer
    return Rental.objects.create(
        id=rental_id,
        car_id=car_id,
        customer=customer,
        status=RentalStatus.PENDING,
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
    except ReservationConflict as exc:
        # This rental's own id refused: spent (the sweep failed the rental while a retry was on its way), or
        # inventory is confused. Unknown, and released to be sure: a release of a spent id changes nothing.
        log.warning("reserve for rental %s: inventory refused its id: %s", rental.id, exc)
        return ReserveOutcome.UNKNOWN
    except Exception:  # InventoryRejected, a malformed answer: treat as unknown, free it
        log.exception("reserve for rental %s: unexpected answer; treating the outcome as unknown", rental.id)
        return ReserveOutcome.UNKNOWN
    return ReserveOutcome.HELD


@transaction.atomic
def _rental_settle(
    *, rental_id: UUID, outcome: ReserveOutcome, idempotency: IdempotencyRequest | None = None
) -> Rental:
    """Step 3 when the rental did not become active: record what inventory said. Locks the rental."""
    rental = Rental.objects.select_for_update().get(id=rental_id)
    if rental.status != RentalStatus.PENDING:
        # Failed by the sweep while we waited on inventory. If we may hold the car, free it again (release is
        # idempotent).
        if rental.status == RentalStatus.FAILED and outcome in (ReserveOutcome.HELD, ReserveOutcome.UNKNOWN):
            outbox_enqueue_release(reservation_id=rental.id)
        return rental
    if outcome == ReserveOutcome.UNKNOWN and idempotency is not None:
        # Left pending: the retry with this key reserves with the same id; unretried, the sweep fails it.
        idempotency_keep_for_retry(rental_id=rental.id)
        return rental
    _rental_fail(rental, _FAILURE_OF[outcome], release=outcome == ReserveOutcome.UNKNOWN)
    if idempotency is not None:
        idempotency_record(rental=rental, request=idempotency)
    return rental


def _rental_fail(rental: Rental, failure: FailureCode, *, release: bool) -> None:
    rental.status, rental.failure_code, rental.updated_at = RentalStatus.FAILED, failure, Now()
    rental.save(update_fields=["status", "failure_code", "updated_at"])
    if release:
        outbox_enqueue_release(reservation_id=rental.id)
    transaction.on_commit(lambda: metrics.rental_failed(failure))


def _raise_if_failed(rental: Rental) -> None:
    if rental.status == RentalStatus.PENDING:
        raise errors.RentalInventoryUnavailable(
            "Inventory could not be reached in time. Retry with the same Idempotency-Key to carry on with this "
            "rental; a car it may hold is released if nobody does."
        )
    if rental.status != RentalStatus.FAILED:
        return
    raise errors.error_of_failure(rental.failure_code) or errors.RentalInventoryUnavailable()


def rental_end(*, rental_id: UUID) -> Rental:
    """Complete the rental and, in the same transaction, queue the release of its car; then deliver that release
    at once, briefly, and leave it to the relay if inventory does not answer in time. So the car is free when
    this returns, or as soon as inventory is back; ending never fails because inventory is down, and ending a
    completed rental returns it unchanged."""
    deliver_now = not connection.in_atomic_block  # no call to inventory from inside a caller's transaction
    params = {
        **statements.PARAMS,
        "id": rental_id,
        "channel": NOTIFY_CHANNEL,
        "lease_seconds": settings.BOOKING_RELEASE_NOW_LEASE_SECONDS if deliver_now else 0,
    }
    params["now"] = timezone.now()
    ended = list(Rental.objects.raw(statements.RENTAL_END, params))
    if not ended:
        # Only reads, to answer: an end is written by the statement above alone.
        rental = Rental.objects.filter(id=rental_id).first()
        if rental is None:
            raise errors.RentalNotFound()
        if rental.status == RentalStatus.COMPLETED:
            return rental
        if rental.status != RentalStatus.ACTIVE:
            raise errors.RentalNotActive(f"The rental is {rental.status}; only an active rental can be ended.")
        # Activated after the statement looked (a start settling this very moment): one more try.
        ended = list(Rental.objects.raw(statements.RENTAL_END, params))
        if not ended:
            raise errors.RentalNotActive("The rental changed while it was being ended; try again.")
    rental = ended[0]
    transaction.on_commit(metrics.rental_ended)  # at once, unless a caller's transaction is still open
    if deliver_now:
        _release_now(rental)
    return rental


def _release_now(rental: Rental) -> None:
    """Deliver the release the end just queued, once and briefly. The rental is completed whatever happens here:
    anything that goes wrong (inventory slow or away, even booking's database) is left to the relay."""
    try:
        outcome = outbox_deliver_now(
            message_id=rental.outbox_id,
            reservation_id=rental.id,
            created_at=rental.outbox_created_at,
            lease_until=rental.outbox_lease_until,
            client=inventory_release_client(),
        )
    except Exception:
        log.exception("end of rental %s: releasing its car at once failed; the relay will", rental.id)
        outcome = "error"
    metrics.release_delivered_now(outcome)


def rental_sweep_pending(*, older_than: timedelta, limit: int = 100) -> int:
    """Fail rentals nobody has touched for `older_than` while `pending` — a crash between reserve and activation,
    a start whose activation failed, or a 503 whose Idempotency-Key was never retried — and release their holds.
    Returns how many. A pending rental never answered 201, so nobody was told it started: it is failed even
    when inventory holds the car for it. Its key (if any) becomes retryable and starts afresh once the release
    is delivered."""
    with transaction.atomic():
        stale = list(
            Rental.objects.select_for_update(skip_locked=True)
            .filter(status=RentalStatus.PENDING, updated_at__lte=Now() - older_than)
            .order_by("updated_at")[:limit]
        )
        for rental in stale:
            _rental_fail(rental, FailureCode.ABANDONED, release=True)
            idempotency_keep_for_retry(rental_id=rental.id)
            log.warning(
                "sweep: rental %s (car %s) was still pending; failed (abandoned), its hold released",
                rental.id,
                rental.car_id,
            )
    return len(stale)
