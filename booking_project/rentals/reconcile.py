"""The reconciler, the safety net every two-database system needs: compare inventory's active holds with
booking's rentals and release the holds no rental stands behind. The outbox, tombstones and the sweep are what
keep the two in step; this finds what they missed — a bug, a restore of one database from a backup, a hand edit —
and repairs it, with a log line and `booking_reconciler_repairs_total` for every repair. Run by the relay.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from django.db import connection, transaction

from drivenow_contracts import Reservation, ReservationNotFound, ReservationState

from . import metrics
from .inventory import inventory_client
from .models import HOLDING_STATUSES, OutboxMessage, OutboxStatus, Rental, RentalStatus
from .outbox import outbox_enqueue_release

log = logging.getLogger(__name__)

# A hold is owed to a rental in these states (a booking ahead holds its car too); `pending` ones are the sweep's
# to settle.
_HOLDING = frozenset(HOLDING_STATUSES)
PAGE = 200


@dataclass
class ReconcileReport:
    holds_seen: int = 0
    released: list[UUID] = field(default_factory=list)
    rentals_without_hold: list[UUID] = field(default_factory=list)


def holds_reconcile(*, min_age: timedelta, should_stop: Callable[[], bool] = lambda: False) -> ReconcileReport:
    """One pass: page through inventory's active holds and queue a release (through the outbox) for every hold
    older than `min_age` that no rental owns — its rental is not active or pending (or does not exist) and no
    release of it is on its way — once inventory confirms the hold is still there; then report active rentals
    older than `min_age` that inventory holds nothing for. Raises InventoryUnavailable when inventory cannot be
    read: then nothing more is repaired in this pass.

    A page is judged a moment after it was read, and rentals end meanwhile: a candidate is therefore asked about
    again (one call each, and candidates are rare) and locked before its release is queued, so a rental that
    ended and freed its car while the pass ran is no repair."""
    if connection.in_atomic_block:
        raise RuntimeError("no database transaction may stay open across a call to inventory")
    report = ReconcileReport()
    cutoff = _database_now() - min_age
    held: set[UUID] = set()
    client = inventory_client()
    offset = 0
    while not should_stop():
        page = client.list_reservations(state=ReservationState.ACTIVE, limit=PAGE, offset=offset)
        held.update(hold.id for hold in page.results)
        report.holds_seen += len(page.results)
        for hold in _unowned(hold for hold in page.results if hold.started_at <= cutoff):
            if should_stop():
                break
            try:
                if client.get_reservation(hold.id).state != ReservationState.ACTIVE:
                    continue  # released meanwhile: its rental ended as it should
            except ReservationNotFound:
                continue
            status = _release_if_unowned(hold.id)
            if status is not None:
                report.released.append(hold.id)
                metrics.RECONCILER_REPAIRS.labels(rental_status=status).inc()
                log.warning(
                    "reconciler: inventory held car %s for %s, whose rental is %s; release queued",
                    hold.car_id,
                    hold.id,
                    status,
                )
        if not page.next or not page.results:
            break
        offset += len(page.results)
    if should_stop():
        return report
    # Paging by offset while holds come and go can miss one: each rental that looks unheld is asked about alone,
    # and counted only if it is still active afterwards.
    suspects = Rental.objects.filter(status=RentalStatus.ACTIVE, started_at__lte=cutoff).exclude(id__in=held)
    for rental_id, car_id in suspects.values_list("id", "car_id").iterator():
        try:
            if client.get_reservation(rental_id).state == ReservationState.ACTIVE:
                continue
        except ReservationNotFound:
            pass
        if not Rental.objects.filter(id=rental_id, status=RentalStatus.ACTIVE).exists():
            continue  # ended meanwhile
        report.rentals_without_hold.append(rental_id)
        metrics.RECONCILER_UNHELD.inc()
        log.error(
            "reconciler: rental %s is active but inventory holds nothing for it (car %s); needs a look",
            rental_id,
            car_id,
        )
    return report


def _unowned(holds: Iterable[Reservation]) -> list[Reservation]:
    """The holds of this page no rental owns, read without locks: one query for the rentals, one for releases."""
    candidates = {hold.id: hold for hold in holds}
    owned = set(Rental.objects.filter(id__in=candidates, status__in=_HOLDING).values_list("id", flat=True))
    # A release pending, or dead (inventory refused it: a person looks at it, with its readings): not ours to redo.
    on_their_way = set(
        OutboxMessage.objects.filter(
            reservation_id__in=candidates, status__in=[OutboxStatus.PENDING, OutboxStatus.DEAD]
        ).values_list("reservation_id", flat=True)
    )
    return [hold for hold_id, hold in candidates.items() if hold_id not in owned and hold_id not in on_their_way]


@transaction.atomic
def _release_if_unowned(reservation_id: UUID) -> str | None:
    """Queue the release of a hold whose rental does not own it, looked at again under the rental's lock;
    returns that rental's status (`missing`: none), or None when it turned out owned or already on its way."""
    rental = Rental.objects.select_for_update().filter(id=reservation_id).first()
    if rental is not None and rental.status in _HOLDING:
        return None
    if OutboxMessage.objects.filter(
        reservation_id=reservation_id, status__in=[OutboxStatus.PENDING, OutboxStatus.DEAD]
    ).exists():
        return None
    outbox_enqueue_release(reservation_id=reservation_id)
    return "missing" if rental is None else rental.status


def _database_now() -> datetime:
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        now: datetime = cursor.fetchone()[0]
    return now
