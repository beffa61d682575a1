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

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID, uuid4

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from customers.models import Customer, CustomerStatus
from drivenow_contracts import (
    CarNotFound,
    CarNotReturned,
    CarUnavailable,
    ClassUnavailable,
    ContractError,
    ExtensionConflict,
    InventoryRejected,
    InventoryUnavailable,
    NotStarted,
    Reservation,
    ReservationConflict,
    ReservationNotFound,
)
from payments import services as payment_services
from pricing import selectors as pricing_selectors
from pricing import services as pricing_services

from . import errors, metrics, selectors, statements
from .idempotency import (
    IdempotencyRequest,
    Resumed,
    StoredResponse,
    idempotency_claim,
    idempotency_keep_for_retry,
    idempotency_record,
)
from .inventory import inventory_client, inventory_release_client
from .models import FailureCode, Handover, HandoverKind, Rental, RentalStatus
from .outbox import NOTIFY_CHANNEL, outbox_deliver_now, outbox_enqueue_release

log = logging.getLogger(__name__)


class ReserveOutcome(StrEnum):
    HELD = "held"
    CAR_UNAVAILABLE = "car_unavailable"
    CAR_NOT_FOUND = "car_not_found"
    UNKNOWN = "unknown"  # inventory unreachable, timed out, or answered something unexpected
    # v2: inventory refused the booking's window
    CLASS_UNAVAILABLE = "class_unavailable"
    OUTSIDE_OPENING_HOURS = "outside_opening_hours"
    WINDOW_TOO_SHORT = "window_too_short"
    VEHICLE_CLASS_NOT_FOUND = "vehicle_class_not_found"
    LOCATION_NOT_FOUND = "location_not_found"
    RETURN_BEFORE_PICKUP = "return_before_pickup"


_FAILURE_OF: dict[ReserveOutcome, FailureCode] = {
    ReserveOutcome.CAR_UNAVAILABLE: FailureCode.CAR_UNAVAILABLE,
    ReserveOutcome.CAR_NOT_FOUND: FailureCode.CAR_NOT_FOUND,
    ReserveOutcome.UNKNOWN: FailureCode.INVENTORY_UNAVAILABLE,
    ReserveOutcome.CLASS_UNAVAILABLE: FailureCode.CLASS_UNAVAILABLE,
    ReserveOutcome.OUTSIDE_OPENING_HOURS: FailureCode.OUTSIDE_OPENING_HOURS,
    ReserveOutcome.WINDOW_TOO_SHORT: FailureCode.WINDOW_TOO_SHORT,
    ReserveOutcome.VEHICLE_CLASS_NOT_FOUND: FailureCode.VEHICLE_CLASS_NOT_FOUND,
    ReserveOutcome.LOCATION_NOT_FOUND: FailureCode.LOCATION_NOT_FOUND,
    ReserveOutcome.RETURN_BEFORE_PICKUP: FailureCode.RETURN_BEFORE_PICKUP,
}
# Inventory's 422s a booking's window can meet: the request, not inventory, is at fault, and nothing was held.
_REFUSALS = {
    outcome.value: outcome
    for outcome in (
        ReserveOutcome.OUTSIDE_OPENING_HOURS,
        ReserveOutcome.WINDOW_TOO_SHORT,
        ReserveOutcome.VEHICLE_CLASS_NOT_FOUND,
        ReserveOutcome.LOCATION_NOT_FOUND,
        ReserveOutcome.RETURN_BEFORE_PICKUP,
    )
}


@dataclass(frozen=True)
class Window:
    """A booking ahead (v2): a class (or a car) at a branch for [pickup_at, return_at)."""

    pickup_location: str
    pickup_at: datetime
    return_at: datetime
    vehicle_class: str | None = None
    return_location: str | None = None
    quote_id: UUID | None = None  # book at this quote's price


# A pick-up time this far in the past is still "now" (a booking made at the desk a moment ago).
PICKUP_IN_PAST_SLACK = timedelta(minutes=5)


def _no_transaction_open() -> None:
    if connection.in_atomic_block:
        raise RuntimeError("no database transaction may stay open across a call to inventory")


def rental_start(
    *,
    customer_id: UUID,
    car_id: UUID | None = None,
    expected_return_at: datetime | None = None,
    window: Window | None = None,
    idempotency: IdempotencyRequest | None = None,
) -> Rental | StoredResponse:
    """Take the car for the customer through inventory: now (a walk-in: the rental is `active`), or, with a
    `window`, book a car or a class for it (the rental is `reserved`, and inventory says which car). Returns
    the rental, or the stored first answer when `idempotency` names a key already answered.

    Raises RentalCustomerNotFound, RentalCustomerInactive, RentalCarUnavailable, RentalCarNotFound,
    RentalClassUnavailable / InventoryRefused (a booking's window refused), PickupInPast, ReturnBeforePickup,
    RentalInventoryUnavailable (the rental is then failed and nothing stays held; with a key it stays pending for
    the retry), IdempotencyKeyReused, IdempotencyKeyInUse.
    """
    _no_transaction_open()
    opened = _rental_open(
        car_id=car_id,
        customer_id=customer_id,
        expected_return_at=expected_return_at,
        window=window,
        idempotency=idempotency,
    )
    if isinstance(opened, StoredResponse):
        return opened
    outcome, hold = _reserve(opened)
    if outcome == ReserveOutcome.HELD and _rental_activate(opened, hold, idempotency=idempotency):
        return opened
    rental = _rental_settle(rental_id=opened.id, outcome=outcome, idempotency=idempotency)
    _raise_if_failed(rental)
    return rental


def _rental_activate(rental: Rental, hold: Reservation | None, *, idempotency: IdempotencyRequest | None) -> bool:
    """Step 3 when inventory holds the car: one conditional UPDATE turns the pending rental active (a walk-in) or
    reserved (a booking, now with the car inventory chose) — the only statement that does — keeping the car's
    model and plate as inventory reported them; with an Idempotency-Key, the key's answer is stored in the same
    transaction. False when the rental is not pending any more (the sweep failed it while inventory answered)."""
    now = timezone.now()
    changes: dict[str, object] = {"updated_at": Now()}
    if hold is not None:
        changes.update(car_model=hold.car_model or "", car_plate=hold.car_plate or "")
    if rental.pickup_at is not None:
        assert hold is not None
        changes.update(
            status=RentalStatus.RESERVED,
            car_id=hold.car_id,
            vehicle_class=hold.vehicle_class,
            pickup_location=hold.location or rental.pickup_location,
            return_location=hold.return_location or rental.return_location,
        )
    else:
        changes.update(status=RentalStatus.ACTIVE, started_at=now)
    with transaction.atomic() if idempotency is not None or rental.quote_id else nullcontext():
        if not Rental.objects.filter(id=rental.id, status=RentalStatus.PENDING).update(**changes):
            return False
        for field, value in changes.items():
            if field != "updated_at":
                setattr(rental, field, value)
        if rental.quote_id is not None:  # a booking at a quote: its lines are the ledger's first
            rental.price = pricing_services.charges_from_quote(rental_id=rental.id, quote_id=rental.quote_id)
        if idempotency is not None:
            idempotency_record(rental=rental, request=idempotency)
    booked = rental.status == RentalStatus.RESERVED
    transaction.on_commit(metrics.rental_booked if booked else metrics.rental_started)
    return True


def _rental_open(
    *,
    car_id: UUID | None,
    customer_id: UUID,
    expected_return_at: datetime | None,
    window: Window | None,
    idempotency: IdempotencyRequest | None,
) -> Rental | StoredResponse:
    """Step 1: claim the key (first, so duplicates meet there), check the customer, store the pending rental."""
    if window is not None:
        return _rental_open_checked(
            car_id=car_id,
            customer_id=customer_id,
            expected_return_at=expected_return_at,
            window=window,
            idempotency=idempotency,
        )
    assert car_id is not None
    if idempotency is None and (expected_return_at is None or expected_return_at > timezone.now()):
        opened = _rental_open_for_active_customer(
            car_id=car_id, customer_id=customer_id, expected_return_at=expected_return_at
        )
        if opened is not None:
            return opened
    return _rental_open_checked(
        car_id=car_id,
        customer_id=customer_id,
        expected_return_at=expected_return_at,
        window=None,
        idempotency=idempotency,
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
    *,
    car_id: UUID | None,
    customer_id: UUID,
    expected_return_at: datetime | None,
    window: Window | None,
    idempotency: IdempotencyRequest | None,
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
    if window is not None:
        if window.return_at <= window.pickup_at:
            raise errors.ReturnBeforePickup()
        if window.pickup_at < timezone.now() - PICKUP_IN_PAST_SLACK:
            raise errors.PickupInPast()
    if resumed is not None:
        return Rental.objects.get(id=resumed.rental_id)  # the same body, so the same car and customer
    booked: dict[str, object] = {}
    if window is not None:
        booked = {
            "pickup_at": window.pickup_at,
            "return_at": window.return_at,
            "pickup_location": window.pickup_location,
            "return_location": window.return_location or window.pickup_location,
            "vehicle_class": window.vehicle_class,
        }
        if window.quote_id is not None:
            quote = pricing_selectors.quote_for_booking(
                quote_id=window.quote_id,
                vehicle_class=window.vehicle_class,
                pickup_location=window.pickup_location,
                return_location=window.return_location or window.pickup_location,
                pickup_at=window.pickup_at,
                return_at=window.return_at,
            )
            booked.update(quote=quote, currency=quote.currency)  # its price: the ledger, once reserved
        elif window.vehicle_class is not None:  # priced as a quote would price it now, when a plan does
            quote = pricing_services.quote_for_booking_if_priced(
                vehicle_class=window.vehicle_class,
                pickup_location=window.pickup_location,
                return_location=window.return_location,
                pickup_at=window.pickup_at,
                return_at=window.return_at,
            )
            if quote is not None:
                booked.update(quote=quote, currency=quote.currency)
    return Rental.objects.create(
        id=rental_id,
        car_id=car_id,
        customer=customer,
        status=RentalStatus.PENDING,
        expected_return_at=expected_return_at,
        **booked,
    )


def _reserve(rental: Rental) -> tuple[ReserveOutcome, Reservation | None]:
    """Step 2: the call to inventory, with no transaction open. Every reply maps to an outcome; nothing raises."""
    _no_transaction_open()
    client = inventory_client()
    try:
        if rental.pickup_at is None:
            assert rental.car_id is not None
            hold = client.reserve(reservation_id=rental.id, car_id=rental.car_id)
        else:
            assert rental.return_at is not None
            hold = client.reserve_window(
                reservation_id=rental.id,
                starts_at=rental.pickup_at,
                ends_at=rental.return_at,
                car_id=rental.car_id,
                vehicle_class=None if rental.car_id else rental.vehicle_class,
                location=None if rental.car_id else rental.pickup_location,
                return_location=rental.return_location,
            )
    except CarUnavailable:
        return ReserveOutcome.CAR_UNAVAILABLE, None
    except ClassUnavailable:
        return ReserveOutcome.CLASS_UNAVAILABLE, None
    except CarNotFound:
        return ReserveOutcome.CAR_NOT_FOUND, None
    except InventoryUnavailable as exc:
        log.warning("reserve for rental %s: outcome unknown: %s", rental.id, exc)
        return ReserveOutcome.UNKNOWN, None
    except ReservationConflict as exc:
        # This rental's own id refused: spent (the sweep failed the rental while a retry was on its way), or
        # inventory is confused. Unknown, and released to be sure: a release of a spent id changes nothing.
        log.warning("reserve for rental %s: inventory refused its id: %s", rental.id, exc)
        return ReserveOutcome.UNKNOWN, None
    except InventoryRejected as exc:
        if exc.status == 422 and exc.raw_code in _REFUSALS:
            return _REFUSALS[exc.raw_code], None  # the window is at fault, and nothing was held
        log.error(
            "reserve for rental %s: refused (%s %s); treating the outcome as unknown",
            rental.id,
            exc.status,
            exc.raw_code,
        )
        return ReserveOutcome.UNKNOWN, None
    except Exception:  # a malformed answer: treat as unknown, free it
        log.exception("reserve for rental %s: unexpected answer; treating the outcome as unknown", rental.id)
        return ReserveOutcome.UNKNOWN, None
    return ReserveOutcome.HELD, hold


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


@dataclass(frozen=True)
class Readings:
    """What the front desk reads at a handover: the odometer, the fuel in eighths, damage noticed, and (at a
    return) where the car came back."""

    odometer_km: int | None = None
    fuel_eighths: int | None = None
    damage: str = ""
    location: str | None = None
    staff_user: str = ""


def rental_end(*, rental_id: UUID, readings: Readings | None = None) -> Rental:
    """Complete the rental and, in the same transaction, record the return's readings and queue the release of
    its car (with its odometer and return branch); then deliver that release at once, briefly, and leave it to
    the relay if inventory does not answer in time. So the car is free when this returns, or as soon as
    inventory is back; ending never fails because inventory is down, and ending a completed rental returns it
    unchanged."""
    deliver_now = not connection.in_atomic_block  # no call to inventory from inside a caller's transaction
    params: dict[str, object] = {
        **statements.PARAMS,
        "id": rental_id,
        "channel": NOTIFY_CHANNEL,
        "lease_seconds": settings.BOOKING_RELEASE_NOW_LEASE_SECONDS if deliver_now else 0,
    }
    if readings is not None:
        payload = {"odometer_km": readings.odometer_km, "location": readings.location}
        params.update(
            readings=True,
            odometer_km=readings.odometer_km,
            fuel_eighths=readings.fuel_eighths,
            damage=readings.damage,
            location=readings.location,
            staff_user=readings.staff_user,
            payload=json.dumps({key: value for key, value in payload.items() if value is not None}),
        )
    params["now"] = timezone.now()
    ended = list(Rental.objects.raw(statements.RENTAL_END, params))
    if not ended:
        # Only reads, to answer: an end is written by the statement above alone.
        rental = Rental.objects.filter(id=rental_id).first()
        if rental is None:
            raise errors.RentalNotFound()
        if rental.status == RentalStatus.COMPLETED:
            _bill_return(rental)  # a retry after a crash between the end and its bill: billed once, now
            return rental
        if rental.status != RentalStatus.ACTIVE:
            raise errors.RentalNotActive(f"The rental is {rental.status}; only an active rental can be ended.")
        # Activated after the statement looked (a start settling this very moment): one more try.
        ended = list(Rental.objects.raw(statements.RENTAL_END, params))
        if not ended:
            raise errors.RentalNotActive("The rental changed while it was being ended; try again.")
    rental = ended[0]
    transaction.on_commit(metrics.rental_ended)  # at once, unless a caller's transaction is still open
    _bill_return(rental)  # before the call to inventory: a worker lost during that call has billed already
    if deliver_now:
        _release_now(rental)
    if readings is not None or rental.pickup_at is not None:
        return selectors.rental_get(rental_id=rental.id)  # with its handovers
    return rental


def _bill_return(rental: Rental) -> None:
    """The return's charges (late, mileage, fuel, one-way) after the end committed. A booking only: a walk-in has
    no plan, and costs no statement here. The rental is completed whatever happens: a failure is logged and the
    next end of the same rental (a retry) bills it, once."""
    if rental.pickup_at is None:
        return
    try:
        pricing_services.charges_for_return(rental_id=rental.id)
    except Exception:
        log.exception("end of rental %s: its return charges were not written; ending it again will", rental.id)
        return
    try:
        with transaction.atomic():  # the deposit captured up to the total, through the outbox (once: by state)
            payment_services.payments_settle(rental_id=rental.id)
    except Exception:
        log.exception("end of rental %s: its payments were not settled; ending it again will", rental.id)


def _release_now(rental: Rental) -> None:
    """Deliver the release the end just queued, once and briefly. The rental is completed whatever happens here:
    anything that goes wrong (inventory slow or away, even booking's database) is left to the relay."""
    try:
        outcome = outbox_deliver_now(
            message_id=rental.outbox_id,
            reservation_id=rental.id,
            created_at=rental.outbox_created_at,
            lease_until=rental.outbox_lease_until,
            payload=rental.outbox_payload,
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


def _inventory_refused(exc: ContractError) -> errors.InventoryRefused:
    """Inventory's typed refusal, passed on as it is (its status and code): the front desk's to act on."""
    code = getattr(exc, "raw_code", "") or exc.code.value
    return errors.InventoryRefused(status=exc.status or 409, code=code, detail=exc.detail)


def _call_inventory(what: str, call):  # type: ignore[no-untyped-def]
    """A call whose answer decides the response: nothing is open while it runs, an unknown outcome is a 503
    (nothing changed here; the call is idempotent, so the retry is safe), a refusal is passed on."""
    _no_transaction_open()
    try:
        return call()
    except InventoryUnavailable as exc:
        log.warning("%s: inventory unavailable: %s", what, exc)
        raise errors.RentalInventoryUnavailable(
            "Inventory could not be reached in time; nothing changed. Try again."
        ) from exc
    except ClassUnavailable as exc:
        raise errors.RentalClassUnavailable(exc.detail) from exc
    except (CarNotReturned, NotStarted, ExtensionConflict, CarUnavailable, CarNotFound, InventoryRejected) as exc:
        raise _inventory_refused(exc) from exc
    except (ReservationConflict, ReservationNotFound) as exc:
        # The hold changed under this call (released by a cancel, moved by a reassign): the caller's view of the
        # rental is out of date. 409, with inventory's code; a look at the rental says what happened.
        raise errors.InventoryRefused(status=409, code=exc.code.value, detail=exc.detail) from exc


def _snapshot(hold: Reservation) -> dict[str, object]:
    return {"car_id": hold.car_id, "car_model": hold.car_model or "", "car_plate": hold.car_plate or ""}


# How long a pick-up's claim keeps a cancel and the no-show sweep away: far longer than its calls to inventory.
PICKUP_CLAIM_SECONDS = 120


def _unclaimed() -> Q:
    return Q(pickup_claimed_at__isnull=True) | Q(pickup_claimed_at__lt=Now() - timedelta(seconds=PICKUP_CLAIM_SECONDS))


def rental_pick_up(
    *, rental_id: UUID, readings: Readings, car_id: UUID | None = None, payment_method: str | None = None
) -> Rental:
    """The customer takes the car: inventory marks it rented, the rental becomes `active` with the handover's
    readings. When the booked car is still out (its previous renter is late) or out of service, the hold moves to
    another free car of the class first (409 class_unavailable when there is none); with `car_id`, to that car
    (the front desk's choice). Picking up an active rental again answers it. Inventory down: 503, nothing
    changed. A move is recorded as soon as inventory answers it: a pick-up refused after it (too early, that car
    out as well) leaves the booking reserved on the car inventory now holds for it.

    The rental is claimed first (`pickup_claimed_at`, one conditional UPDATE): while inventory hands the car
    over, a cancel or the no-show sweep leaves it alone, so a car that has left is never released behind its
    customer's back.

    With BOOKING_DEPOSIT_REQUIRED, a deposit is authorised (with `payment_method`, unless one was authorised ahead)
    after the claim and before inventory hands the car over: declined, 402 and the car stays."""
    rental = selectors.rental_get(rental_id=rental_id)
    if rental.status == RentalStatus.ACTIVE and rental.is_booking:
        return rental
    if (
        not Rental.objects.filter(id=rental.id, status=RentalStatus.RESERVED)
        .filter(_unclaimed())
        .update(pickup_claimed_at=Now())
    ):
        current = Rental.objects.get(id=rental.id)
        if current.status == RentalStatus.ACTIVE and current.is_booking:
            return selectors.rental_get(rental_id=rental.id)
        if current.status == RentalStatus.RESERVED:
            raise errors.RentalNotReserved("This rental is being picked up at this moment.")
        raise errors.RentalNotReserved(f"The rental is {current.status}; only a reserved one is picked up.")
    try:
        payment_services.deposit_for_pickup(
            rental=rental, payment_method=payment_method, created_by=readings.staff_user
        )
        hold = _hand_over(rental, readings, car_id)
    except BaseException:
        Rental.objects.filter(id=rental.id, status=RentalStatus.RESERVED).update(pickup_claimed_at=None)
        raise
    with transaction.atomic():
        updated = Rental.objects.filter(id=rental.id, status=RentalStatus.RESERVED).update(
            status=RentalStatus.ACTIVE,
            started_at=hold.picked_up_at or timezone.now(),
            pickup_claimed_at=None,
            updated_at=Now(),
            **_snapshot(hold),
        )
        if not updated:  # only a claim left to go stale (this request stalled for minutes) lets this happen
            raise errors.RentalNotReserved("The rental changed while its car was handed over; a person must look.")
        Handover.objects.create(
            rental_id=rental.id,
            kind=HandoverKind.OUT,
            odometer_km=readings.odometer_km,
            fuel_eighths=readings.fuel_eighths,
            damage=readings.damage,
            location=rental.pickup_location,
            staff_user=readings.staff_user,
        )
    transaction.on_commit(metrics.rental_started)
    return selectors.rental_get(rental_id=rental.id)


def _hand_over(rental: Rental, readings: Readings, car_id: UUID | None) -> Reservation:
    """Inventory's half of a pick-up: the chosen car first (when the desk chose one), then the pick-up itself;
    a booked car still out, or out of service, makes way for another of the class."""
    client = inventory_client()
    if car_id is not None and car_id != rental.car_id:
        moved = _call_inventory(
            "pick-up", lambda: client.reassign(rental.id, from_car_id=rental.car_id, to_car_id=car_id)
        )
        _rental_moved(rental_id=rental.id, from_car_id=rental.car_id, hold=moved)
        if moved.car_id != car_id:  # moved elsewhere meanwhile (the relay's reassign ahead): not the desk's choice
            detail = "The booking moved to another car meanwhile; look again."
            raise errors.InventoryRefused(status=409, code="reservation_conflict", detail=detail)
    try:
        return _call_inventory("pick-up", lambda: client.pick_up(rental.id, odometer_km=readings.odometer_km))
    except errors.InventoryRefused as refused:
        # Still out on a late rental, or taken out of service since the booking: another car of the class.
        if refused.code not in ("car_not_returned", "car_unavailable") or car_id is not None:
            raise
        moved = _call_inventory("pick-up", lambda: client.reassign(rental.id, from_car_id=rental.car_id))
        _rental_moved(rental_id=rental.id, from_car_id=rental.car_id, hold=moved)
        log.info("pick-up of rental %s: car %s %s; moved to %s", rental.id, rental.car_id, refused.code, moved.car_id)
        return _call_inventory("pick-up", lambda: client.pick_up(rental.id, odometer_km=readings.odometer_km))


def _rental_moved(*, rental_id: UUID, from_car_id: UUID | None, hold: Reservation) -> None:
    """Inventory answered a reassign of the reserved rental's hold, which was on `from_car_id`: booking names the
    car it is on now, in one statement (nothing when the rental changed meanwhile)."""
    if hold.car_id == from_car_id:
        return
    Rental.objects.filter(id=rental_id, status=RentalStatus.RESERVED, car_id=from_car_id).update(
        updated_at=Now(), **_snapshot(hold)
    )


def rental_cancel(*, rental_id: UUID) -> Rental:
    """Cancel a booking not yet picked up: `cancelled`, and its hold released through the outbox (delivered at
    once when inventory answers, else by the relay). Cancelling twice answers the cancelled rental."""
    rental = selectors.rental_get(rental_id=rental_id)
    if rental.status == RentalStatus.CANCELLED:
        return rental
    with transaction.atomic():
        if (
            not Rental.objects.filter(id=rental.id, status=RentalStatus.RESERVED)
            .filter(_unclaimed())
            .update(status=RentalStatus.CANCELLED, updated_at=Now())
        ):
            current = Rental.objects.get(id=rental.id).status
            if current == RentalStatus.CANCELLED:
                return selectors.rental_get(rental_id=rental.id)
            if current == RentalStatus.RESERVED:
                raise errors.RentalNotReserved("The car is being handed over at this moment; it cannot be cancelled.")
            raise errors.RentalNotReserved(f"The rental is {current}; only a reserved one can be cancelled.")
        message = outbox_enqueue_release(reservation_id=rental.id, unless_picked_up=True)
        pricing_services.charges_for_cancellation(rental=rental, cancelled_at=timezone.now())
        payment_services.payments_settle(rental_id=rental.id)  # the fee taken, the rest released or refunded
    metrics.rental_closed("cancelled")
    _deliver_queued_now(message.id, rental.id)
    return selectors.rental_get(rental_id=rental.id)


def _deliver_queued_now(message_id: int, reservation_id: UUID) -> None:
    """Try a just-queued release once, briefly; the relay has it if this cannot (its row is due already)."""
    from .outbox import outbox_deliver_claimed_now

    try:
        outcome = outbox_deliver_claimed_now(message_id=message_id, client=inventory_release_client())
    except Exception:
        log.exception("releasing %s at once failed; the relay will", reservation_id)
        outcome = "error"
    metrics.release_delivered_now(outcome)


@contextmanager
def _one_at_a_time(rental_id: UUID) -> Iterator[None]:
    """Changes of one rental that call inventory run one after another, across every instance: a session advisory
    lock on the rental's id (no transaction stays open across the call; the server's lock_timeout bounds the wait,
    and a connection that breaks takes its lock with it). Two extends of one rental then reach inventory and this
    database in the same order, so both end with the same return."""
    key = int.from_bytes(rental_id.bytes[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [key])
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
        except DatabaseError:  # the connection is gone, and the lock with it
            log.warning("could not unlock rental %s: its connection is gone", rental_id)


def rental_extend(*, rental_id: UUID, return_at: datetime) -> Rental:
    """Move a booking's (or an active rental's) return: inventory moves the hold first (409 extension_conflict
    when the car is booked after; nothing changed), then the rental. Inventory down: 503, nothing changed.
    Extends of one rental run one at a time, so inventory's hold and the rental never end at different times."""
    rental = selectors.rental_get(rental_id=rental_id)
    _no_transaction_open()
    with _one_at_a_time(rental.id):
        rental = selectors.rental_get(rental_id=rental.id)  # as the previous extend left it
        if rental.status not in (RentalStatus.RESERVED, RentalStatus.ACTIVE):
            raise errors.RentalNotActive(f"The rental is {rental.status}; only a reserved or active one is extended.")
        start = rental.pickup_at or rental.started_at
        if start is not None and return_at <= start:
            raise errors.ReturnBeforePickup()
        if return_at <= timezone.now():
            raise errors.ReturnBeforePickup("The new return time has passed.")
        extension = pricing_services.extension_lines(rental=rental, return_at=return_at)  # 422 before any change
        client = inventory_client()
        _call_inventory("extend", lambda: client.extend(rental.id, ends_at=return_at))
        with transaction.atomic():
            moved = Rental.objects.filter(id=rental.id, status__in=[RentalStatus.RESERVED, RentalStatus.ACTIVE])
            if moved.update(return_at=return_at, expected_return_at=return_at, updated_at=Now()):
                pricing_services.bill_extension(rental=rental, rows=extension)
    return selectors.rental_get(rental_id=rental.id)


def rental_sweep_no_shows(*, grace: timedelta, limit: int = 100) -> int:
    """Bookings not picked up `grace` after their pick-up time become `no_show`, and their holds are released
    (through the outbox), so the car is free for the next booking. Returns how many."""
    with transaction.atomic():
        late = list(
            Rental.objects.select_for_update(skip_locked=True)
            .filter(status=RentalStatus.RESERVED, pickup_at__lte=Now() - grace)
            .filter(_unclaimed())
            .order_by("pickup_at")[:limit]
        )
        for rental in late:
            rental.status, rental.updated_at = RentalStatus.NO_SHOW, Now()
            rental.save(update_fields=["status", "updated_at"])
            outbox_enqueue_release(reservation_id=rental.id, unless_picked_up=True)
            pricing_services.charges_for_no_show(rental=rental)
            payment_services.payments_settle(rental_id=rental.id)
            log.info("no-show: rental %s (car %s) was not picked up; its hold is released", rental.id, rental.car_id)
    for _ in late:
        metrics.rental_closed("no_show")
    return len(late)


def rentals_reassign_ahead(*, ahead: timedelta, limit: int = 50) -> int:
    """For every car out on an overdue rental, move the bookings of that car whose pick-up is within `ahead` to
    another free car of their class, before their customer arrives. Returns how many moved; one that cannot move
    (no car free) is left for the front desk, who will meet 409 class_unavailable at pick-up."""
    _no_transaction_open()
    late_cars = selectors.rentals_overdue().values_list("car_id", flat=True)
    due = Rental.objects.filter(
        status=RentalStatus.RESERVED, car_id__in=late_cars, pickup_at__lte=Now() + ahead
    ).order_by("pickup_at")[:limit]
    client = inventory_client()
    moved = 0
    for rental in list(due):
        try:
            hold = client.reassign(rental.id, from_car_id=rental.car_id)
        except ClassUnavailable:
            log.warning("reassign ahead: no other car for rental %s (car %s is overdue)", rental.id, rental.car_id)
            metrics.REASSIGNED_AHEAD.labels(outcome="class_unavailable").inc()
            continue
        except ContractError as exc:
            log.warning("reassign ahead: rental %s: %s", rental.id, exc)
            metrics.REASSIGNED_AHEAD.labels(outcome="error").inc()
            continue
        if hold.car_id != rental.car_id:
            _rental_moved(rental_id=rental.id, from_car_id=rental.car_id, hold=hold)
            moved += 1
            metrics.REASSIGNED_AHEAD.labels(outcome="moved").inc()
            log.info("reassign ahead: rental %s moved from overdue car %s to %s", rental.id, rental.car_id, hold.car_id)
    return moved
