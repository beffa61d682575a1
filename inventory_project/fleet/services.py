"""Every write to the fleet: cars (staff) and reservations (the booking service). The database has the last word."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, TypeVar
from uuid import UUID

from django.db import IntegrityError, connection, transaction

from . import errors, metrics, selectors, statements
from .models import Car, CarStatus, Location, Reservation, ReservationState, VehicleClass

Coded = TypeVar("Coded", Location, VehicleClass)

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
def _new_car(
    *,
    model: str,
    year: int,
    id: UUID | None,
    status: str,
    plate: str | None,
    vehicle_class: str | None = None,
    location: str | None = None,
    odometer_km: int = 0,
) -> Car:
    """A car as car_create and cars_load make it (not saved): never `rented`, its plate in its one spelling, its
    class and branch found by their codes."""
    if status == CarStatus.RENTED:
        raise errors.InvalidStatusTransition("A car becomes 'rented' only through a reservation.")
    car = Car(model=model, year=year, status=status, plate=plate_normalise(plate) if plate else None)
    car.vehicle_class = _vehicle_class_named(vehicle_class)
    car.location = _location_named(location)
    car.odometer_km = odometer_km
    if id is not None:
        car.id = id
    return car


def _vehicle_class_named(code: str | None) -> VehicleClass | None:
    return None if code is None else selectors.vehicle_class_named(code)


def _location_named(code: str | None) -> Location | None:
    return None if code is None else selectors.location_named(code)


def car_create(
    *,
    model: str,
    year: int,
    id: UUID | None = None,
    status: str = CarStatus.AVAILABLE,
    plate: str | None = None,
    vehicle_class: str | None = None,
    location: str | None = None,
    odometer_km: int = 0,
) -> Car:
    car = _new_car(
        model=model,
        year=year,
        id=id,
        status=status,
        plate=plate,
        vehicle_class=vehicle_class,
        location=location,
        odometer_km=odometer_km,
    )
    try:
        with transaction.atomic():
            car.save(force_insert=True)
    except IntegrityError as exc:
        raise errors.CarExists() from exc
    return car


@transaction.atomic
def cars_load(cars: Iterable[dict[str, Any]], *, batch_size: int = 2000) -> int:
    """Many cars at once (a fleet loaded for a load test), each made as car_create makes it, inserted in batches,
    then the table's statistics refreshed: as after any bulk load, not whenever autovacuum next wakes (without
    them the car list is planned blind). Returns how many were added; a taken id or plate adds none."""
    made = [_new_car(**{"id": None, "status": CarStatus.AVAILABLE, "plate": None, **car}) for car in cars]
    try:
        with transaction.atomic():
            Car.objects.bulk_create(made, batch_size=batch_size)
    except IntegrityError as exc:
        raise errors.CarExists() from exc
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Car._meta.db_table}")
    return len(made)


@transaction.atomic
def car_update(*, car_id: UUID, **changes: Any) -> Car:
    """Change model, year, plate, status (staff transitions only), class, branch or odometer (never down: the
    database's trigger refuses it). Locks the car row."""
    car = _car_for_update(car_id)
    if "status" in changes:
        car_transition_check(car.status, changes["status"])
    if "plate" in changes:
        changes["plate"] = plate_normalise(changes["plate"]) if changes["plate"] else None
    if "vehicle_class" in changes:
        changes["vehicle_class"] = _vehicle_class_named(changes["vehicle_class"])
    if "location" in changes:
        changes["location"] = _location_named(changes["location"])
    for field, value in changes.items():
        setattr(car, field, value)
    try:
        with transaction.atomic():
            car.save(update_fields=[*changes, "updated_at"])
    except IntegrityError as exc:
        if _constraint_of(exc) == "car_odometer_never_decreases":
            raise errors.OdometerDecrease(
                f"The odometer reads {Car.objects.get(id=car_id).odometer_km} km; it never goes down."
            ) from exc
        raise errors.CarExists("Another car already has this plate.") from exc
    return car


def _constraint_of(exc: IntegrityError) -> str | None:
    return getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)


def location_create(*, code: str, name: str, time_zone: str, id: UUID | None = None, **details: Any) -> Location:
    row = Location(code=code, name=name, time_zone=time_zone, **details)
    return _coded_insert(row, id, errors.LocationExists)


def location_update(*, location_id: UUID, **changes: Any) -> Location:
    return _coded_update(Location, location_id, changes, errors.LocationNotFound, errors.LocationExists)


def vehicle_class_create(
    *, code: str, name: str, seats: int, transmission: str, id: UUID | None = None, turnaround_minutes: int = 30
) -> VehicleClass:
    row = VehicleClass(
        code=code, name=name, seats=seats, transmission=transmission, turnaround_minutes=turnaround_minutes
    )
    return _coded_insert(row, id, errors.VehicleClassExists)


def vehicle_class_update(*, vehicle_class_id: UUID, **changes: Any) -> VehicleClass:
    return _coded_update(
        VehicleClass, vehicle_class_id, changes, errors.VehicleClassNotFound, errors.VehicleClassExists
    )


def _coded_insert(row: Coded, id: UUID | None, exists: type[errors.DomainError]) -> Coded:
    """Insert a branch or a class; its unique id and code are the database's to check (two requests may race)."""
    if id is not None:
        row.id = id
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError as exc:
        raise exists() from exc
    return row


@transaction.atomic
def _coded_update(
    model: type[Coded],
    pk: UUID,
    changes: dict[str, Any],
    not_found: type[errors.DomainError],
    exists: type[errors.DomainError],
) -> Coded:
    """Change a branch or a class, its row locked; a code another one has is `exists`."""
    row = model.objects.select_for_update().filter(id=pk).first()
    if row is None:
        raise not_found()
    for field, value in changes.items():
        setattr(row, field, value)
    try:
        with transaction.atomic():
            row.save(update_fields=[*changes, "updated_at"])
    except IntegrityError as exc:
        raise exists() from exc
    return row


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
    """Hold the car for this reservation. Returns (reservation, created).

    One statement takes the car and inserts the hold (statements.RESERVATION_TAKE_CAR). When it takes nothing, or
    PostgreSQL refuses the hold (this id exists, or an overlapping hold does), the rest only reads to answer why:
    a replay of this id, a spent id, a missing car or an unavailable one. The exclusion constraint
    `reservation_no_overlap` has the last word should anything ever let two holds through.
    """
    params = {**statements.PARAMS, "id": reservation_id, "car_id": car_id}
    for _ in range(2):
        try:
            with _own_transaction():
                taken = list(Reservation.objects.raw(statements.RESERVATION_TAKE_CAR, params))
        except IntegrityError as exc:
            existing = Reservation.objects.filter(id=reservation_id).first()
            if existing is not None:
                return _replay(existing, car_id), False
            metrics.reservation_outcome("unavailable")
            raise errors.CarUnavailable() from exc
        if taken:
            metrics.reservation_outcome("created")
            return taken[0], True
        existing = Reservation.objects.filter(id=reservation_id).first()
        if existing is not None:
            return _replay(existing, car_id), False
        status = Car.objects.filter(id=car_id).values_list("status", flat=True).first()
        if status is None:
            metrics.reservation_outcome("car_not_found")
            raise errors.ReservedCarNotFound()
        if status != CarStatus.AVAILABLE:
            metrics.reservation_outcome("unavailable")
            raise errors.CarUnavailable(f"The car is {status}.")
        # Freed between the statement and this read: take it with the same statement once more.
    metrics.reservation_outcome("unavailable")
    raise errors.CarUnavailable()


def _own_transaction() -> AbstractContextManager[object]:
    """A statement run in autocommit is its own transaction; inside a caller's, a savepoint keeps a refusal from
    aborting the caller's transaction."""
    return transaction.atomic() if transaction.get_connection().in_atomic_block else nullcontext()


def _replay(existing: Reservation, car_id: UUID) -> Reservation:
    if existing.state == ReservationState.RELEASED:
        # A replay must never suggest the caller holds a car it gave back: that id is spent (also a tombstone's).
        metrics.reservation_outcome("spent")
        raise errors.ReservationConflict("This reservation id was released; a new hold needs a new id.")
    if existing.car_id != car_id:
        metrics.reservation_outcome("conflict")
        raise errors.ReservationConflict()
    metrics.reservation_outcome("replayed")
    return existing


def reservation_release(*, reservation_id: UUID) -> Reservation:
    """End the hold and free the car. Releasing twice is a no-op that returns the released reservation.

    An id inventory never held is spent all the same (a tombstone is stored) and answered ReservationNotFound:
    a reserve with that id arriving later — a request that stalled on the way — is refused, so it can never
    hold a car for a rental that has already failed."""
    params = {**statements.PARAMS, "id": reservation_id}
    for _ in range(3):
        rows = list(Reservation.objects.raw(statements.RESERVATION_RELEASE, params))
        if rows:
            if rows[0].is_tombstone:
                metrics.release_outcome("tombstone")
                raise errors.ReservationNotFound(_SPENT)
            metrics.release_outcome("released")
            return rows[0]
        existing = Reservation.objects.filter(id=reservation_id).first()
        if existing is not None and existing.state == ReservationState.RELEASED:
            if existing.is_tombstone:
                metrics.release_outcome("tombstone")
                raise errors.ReservationNotFound(_SPENT)
            metrics.release_outcome("already_released")
            return existing
        # A reserve of this id committed while the statement ran: end that hold in the next round.
    raise errors.ReservationConflict("This reservation changed under every attempt to release it; try again.")


_SPENT = "No reservation with this id; the id is now spent and can never hold a car."
