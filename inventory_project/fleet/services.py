"""Every write to the fleet: cars (staff) and reservations (the booking service). The database has the last word."""
from __future__ import annotations

import re
import unicodedata
from typing import Any
from uuid import UUID

from django.db import IntegrityError, transaction
from django.db.backends.postgresql.psycopg_any import DateTimeTZRange
from django.utils import timezone

from . import errors, metrics
from .models import Car, CarStatus, Reservation, ReservationState

# Staff may move a car between these; `rented` belongs to the reservation lifecycle alone.
STAFF_TRANSITIONS: dict[str, frozenset[str]] = {
    CarStatus.AVAILABLE: frozenset({CarStatus.MAINTENANCE, CarStatus.RETIRED}),
    CarStatus.MAINTENANCE: frozenset({CarStatus.AVAILABLE, CarStatus.RETIRED}),
    CarStatus.RETIRED: frozenset(),
    CarStatus.RENTED: frozenset(),
}
_PLATE_SEPARATORS = re.compile(r"[\s\-·.]+")


def plate_normalise(raw: str) -> str:
    """'ab-12 cd' → 'AB12CD': one spelling per plate, so uniqueness cannot be dodged by case or spacing."""
    return _PLATE_SEPARATORS.sub("", unicodedata.normalize("NFKC", raw)).upper()


def car_transition_check(current: str, new: str) -> None:
    if new != current and new not in STAFF_TRANSITIONS[current]:
        raise errors.InvalidStatusTransition(f"A car cannot go from '{current}' to '{new}' by hand.")


@transaction.atomic
def car_create(
    *, model: str, year: int, id: UUID | None = None, status: str = CarStatus.AVAILABLE, plate: str | None = None
) -> Car:
    if status == CarStatus.RENTED:
        raise errors.InvalidStatusTransition("A car becomes 'rented' only through a reservation.")
    car = Car(model=model, year=year, status=status, plate=plate_normalise(plate) if plate else None)
    if id is not None:
        car.id = id
    try:
        with transaction.atomic():
            car.save(force_insert=True)
    except IntegrityError as exc:
        raise errors.CarExists() from exc
    return car


@transaction.atomic
def car_update(*, car_id: UUID, **changes: Any) -> Car:
    """Change model, year, plate or status (staff transitions only). Locks the car row."""
    car = _car_for_update(car_id)
    if "status" in changes:
        car_transition_check(car.status, changes["status"])
    if "plate" in changes:
        changes["plate"] = plate_normalise(changes["plate"]) if changes["plate"] else None
    for field, value in changes.items():
        setattr(car, field, value)
    try:
        with transaction.atomic():
            car.save(update_fields=[*changes, "updated_at"])
    except IntegrityError as exc:
        raise errors.CarExists("Another car already has this plate.") from exc
    return car


def car_change_status(*, car_id: UUID, status: str) -> Car:
    return car_update(car_id=car_id, status=status)


@transaction.atomic
def car_delete(*, car_id: UUID) -> None:
    car = _car_for_update(car_id)
    if car.reservations.exists():
        raise errors.CarHasHistory()
    car.delete()


def _car_for_update(car_id: UUID) -> Car:
    car = Car.objects.select_for_update().filter(id=car_id).first()
    if car is None:
        raise errors.CarNotFound()
    return car


def reservation_create(*, reservation_id: UUID, car_id: UUID) -> tuple[Reservation, bool]:
    """Hold the car for this reservation. Returns (reservation, created). Locks the car row.

    One transaction: take the car — `UPDATE … SET status = 'rented' WHERE status = 'available'` locks the row,
    checks and sets it in one statement — then insert the hold. When the car was not there to take, the slow path
    works out why (missing, unavailable, or this very id replayed). The exclusion constraint
    `reservation_no_overlap` is the last word should anything else ever let two holds through.
    """
    now = timezone.now()
    try:
        with transaction.atomic():
            taken = Car.objects.filter(id=car_id, status=CarStatus.AVAILABLE).update(
                status=CarStatus.RENTED, updated_at=now
            )
            if taken:
                reservation = Reservation.objects.create(
                    id=reservation_id, car_id=car_id, period=DateTimeTZRange(now, None), state=ReservationState.ACTIVE
                )
        if not taken:
            return _reservation_create_slow(reservation_id=reservation_id, car_id=car_id)
    except IntegrityError as exc:
        # A concurrent insert of the same id (primary key) or an overlapping hold (exclusion constraint).
        existing = Reservation.objects.filter(id=reservation_id).first()
        if existing is not None:
            return _replay(existing, car_id), False
        metrics.reservation_outcome("unavailable")
        raise errors.CarUnavailable() from exc
    metrics.reservation_outcome("created")
    return reservation, True


@transaction.atomic
def _reservation_create_slow(*, reservation_id: UUID, car_id: UUID) -> tuple[Reservation, bool]:
    """The car was missing or not available a moment ago: lock it and look again (a release may just have freed
    it), then answer a replay of this id, the reason it cannot be held, or the hold after all."""
    car = Car.objects.select_for_update().filter(id=car_id).first()
    if car is None or car.status != CarStatus.AVAILABLE:
        existing = Reservation.objects.filter(id=reservation_id).first()
        if existing is not None:
            return _replay(existing, car_id), False
    if car is None:
        metrics.reservation_outcome("car_not_found")
        raise errors.ReservedCarNotFound()
    if car.status != CarStatus.AVAILABLE:
        metrics.reservation_outcome("unavailable")
        raise errors.CarUnavailable(f"The car is {car.status}.")
    now = timezone.now()
    reservation = Reservation.objects.create(
        id=reservation_id, car=car, period=DateTimeTZRange(now, None), state=ReservationState.ACTIVE
    )
    car.status = CarStatus.RENTED
    car.save(update_fields=["status", "updated_at"])
    metrics.reservation_outcome("created")
    return reservation, True


def _replay(existing: Reservation, car_id: UUID) -> Reservation:
    if existing.car_id != car_id:
        metrics.reservation_outcome("conflict")
        raise errors.ReservationConflict()
    if existing.state == ReservationState.RELEASED:
        # A replay must never suggest the caller holds a car it gave back: that id is spent.
        metrics.reservation_outcome("conflict")
        raise errors.ReservationConflict("This reservation id was released; a new hold needs a new id.")
    metrics.reservation_outcome("replayed")
    return existing


# Releasing is one statement, so one round trip and its own transaction: end the hold that is active, and free
# its car in the same breath. Row locks in the same order as taking a car (the hold's row, then the car's).
_RELEASE = f"""WITH released AS (
    UPDATE {Reservation._meta.db_table} SET state = %(released)s, period = tstzrange(lower(period), %(now)s, '[)')
    WHERE id = %(id)s AND state = %(active)s
    RETURNING id, car_id, period, state, created_at
), freed AS (
    UPDATE {Car._meta.db_table} AS car SET status = %(available)s, updated_at = %(now)s
    FROM released WHERE car.id = released.car_id AND car.status = %(rented)s
)
SELECT id, car_id, period, state, created_at FROM released
"""


def reservation_release(*, reservation_id: UUID) -> Reservation:
    """End the hold and free the car. Releasing twice is a no-op that returns the released reservation."""
    params = {
        "id": reservation_id, "now": timezone.now(), "active": ReservationState.ACTIVE,
        "released": ReservationState.RELEASED, "available": CarStatus.AVAILABLE, "rented": CarStatus.RENTED,
    }
    released = list(Reservation.objects.raw(_RELEASE, params))
    if released:
        metrics.release_outcome("released")
        return released[0]
    reservation = Reservation.objects.filter(id=reservation_id).first()
    if reservation is None:
        raise errors.ReservationNotFound()
    metrics.release_outcome("already_released")
    return reservation
