"""Every write to the fleet: cars (staff) and reservations (the booking service). The database has the last word."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import QuerySet

from . import errors, metrics, selectors, statements
from .models import Car, CarStatus, HoldKind, Location, Reservation, ReservationState, VehicleClass

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


def _raise_if_odometer_decrease(exc: IntegrityError) -> None:
    """A reading below the car's odometer, refused by the database's trigger: 409 odometer_decrease."""
    if _constraint_of(exc) == "car_odometer_never_decreases":
        raise errors.OdometerDecrease("The car's odometer reads more than that; it never goes down.") from exc


def _constraint_of(exc: IntegrityError) -> str | None:
    return getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)


def location_create(*, code: str, name: str, time_zone: str, id: UUID | None = None, **details: Any) -> Location:
    row = Location(code=code, name=name, time_zone=time_zone, **details)
    return _coded_insert(row, id, errors.LocationExists)


def location_update(*, location_id: UUID, **changes: Any) -> Location:
    return _coded_update(Location, location_id, changes, errors.LocationNotFound, errors.LocationExists)


def vehicle_class_create(
    *,
    code: str,
    name: str,
    seats: int,
    transmission: str,
    id: UUID | None = None,
    turnaround_minutes: int = 30,
    min_rental_minutes: int = 60,
) -> VehicleClass:
    row = VehicleClass(
        code=code,
        name=name,
        seats=seats,
        transmission=transmission,
        turnaround_minutes=turnaround_minutes,
        min_rental_minutes=min_rental_minutes,
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


def reservation_create(
    *,
    reservation_id: UUID,
    car_id: UUID | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    vehicle_class: str | None = None,
    location: str | None = None,
    return_location: str | None = None,
) -> tuple[Reservation, bool]:
    """Hold a car for this reservation. Returns (reservation, created).

    v1 (a car and nothing else): the car from now on, open-ended, rented at once (a walk-in). v2 (a window): this
    car, or the best-fitting free car of the class at the branch, for [starts_at, ends_at + turnaround); the car's
    status is not touched until pick-up."""
    if starts_at is None and ends_at is None and vehicle_class is None and location is None:
        if car_id is None:
            raise errors.IncompleteReservation("Name the car (car_id), or a class and a branch with a window.")
        if return_location is not None:
            raise errors.IncompleteReservation("A return branch belongs to a window (starts_at and ends_at).")
        return _reservation_take_car(reservation_id=reservation_id, car_id=car_id)
    if starts_at is None or ends_at is None:
        raise errors.IncompleteReservation("A window needs both starts_at and ends_at.")
    if (car_id is None) == (vehicle_class is None):
        raise errors.IncompleteReservation("Name either the car (car_id) or the class (vehicle_class), not both.")
    if vehicle_class is not None and location is None:
        raise errors.IncompleteReservation("A class is booked at a branch: name the location.")
    if ends_at <= starts_at:
        raise errors.ReturnBeforePickup("The window must end after it starts.")
    if ends_at <= _db_now():
        raise errors.ReturnBeforePickup("The window is over already.")
    booked_class = _vehicle_class_named(vehicle_class)
    branch = _location_named(location)
    return_branch = _location_named(return_location)

    def replay() -> tuple[Reservation, bool] | None:
        """This id's hold, answered as a replay of this request (or refused as another one); None: no such id."""
        existing = Reservation.objects.filter(id=reservation_id).first()
        return None if existing is None else (_replay_window(existing, car_id, booked_class, starts_at, ends_at), False)

    if (replayed := replay()) is not None:
        return replayed
    if car_id is not None:
        cars = Car.objects.filter(id=car_id)
        car = cars.select_related("vehicle_class", "location").first()
        if car is None:
            metrics.reservation_outcome("car_not_found")
            raise errors.ReservedCarNotFound()
        _window_check(starts_at, ends_at, car.vehicle_class, branch or car.location, return_branch or branch)
        unavailable: type[errors.DomainError] = errors.CarUnavailable
    else:
        _window_check(starts_at, ends_at, booked_class, branch, return_branch or branch)
        cars = Car.objects.filter(vehicle_class=booked_class, location=branch)
        unavailable = errors.ClassUnavailable
    hold = Reservation(
        id=reservation_id,
        kind=HoldKind.RENTAL,
        ends_at=ends_at,
        vehicle_class=booked_class,
        location=branch,
        return_location=return_branch or branch,
    )
    try:
        car = _hold_a_free_car(hold, cars, starts_at=starts_at, ends_at=ends_at)
    except IntegrityError:  # this id arrived meanwhile: a replay racing its original, or a spent id
        if (replayed := replay()) is None:
            raise
        return replayed
    if car is None:
        # The original of a retried request may have taken the last car meanwhile: then this is its replay.
        if (replayed := replay()) is not None:
            return replayed
        metrics.reservation_outcome("unavailable")
        raise unavailable()
    metrics.reservation_outcome("created")
    return _answer(reservation_id), True


def _window_check(
    starts_at: datetime,
    ends_at: datetime,
    booked_class: VehicleClass | None,
    pickup: Location | None,
    dropoff: Location | None,
) -> None:
    """The class's minimum rental, and the branches open at pick-up and at return (on their own clocks)."""
    if booked_class is not None and ends_at - starts_at < timedelta(minutes=booked_class.min_rental_minutes):
        minimum = booked_class.min_rental_minutes
        raise errors.WindowTooShort(f"A {booked_class.code} is booked for {minimum} minutes at least.")
    selectors.branches_open_check(pickup, dropoff, starts_at=starts_at, ends_at=ends_at)


# How many free cars one round locks and tries, and how many rounds before a class is called unavailable. Rounds
# repeat only while other transactions hold the candidates' locks.
_CANDIDATES_PER_ROUND = 8
_ROUNDS = 16


def _hold_a_free_car(
    hold: Reservation, cars: QuerySet[Car], *, starts_at: datetime, ends_at: datetime, move: bool = False
) -> Car | None:
    """Put `hold` on the best-fitting car of `cars` free for the window, and return that car (None: none is).
    `move`: the hold exists (a reassign) and is moved there in place — its row updated, never deleted, so a
    pick-up or extend waiting on its lock finds it afterwards.

    No check-then-act: the candidates are read with the availability predicate and locked `FOR NO KEY UPDATE
    SKIP LOCKED` (concurrent reservers spread over different cars instead of queueing on one; NO KEY, so the
    foreign-key checks of a block or a hold committing on that car do not wait for it), and the hold is written
    under the lock; should a hold committed meanwhile overlap, the exclusion constraint refuses it and the next
    candidate is tried. When every free car is locked by someone else, wait for the best one's lock and look
    again: those transactions may yet fail and leave their car free. A primary key violation (this id) is the
    caller's to answer."""
    free = selectors.best_fit(
        selectors.cars_free_during(cars, starts_at=starts_at, ends_at=ends_at), starts_at=starts_at, ends_at=ends_at
    ).select_related("vehicle_class")
    for _ in range(_ROUNDS):
        with transaction.atomic():
            candidates = list(
                free.select_for_update(skip_locked=True, no_key=True, of=("self",))[:_CANDIDATES_PER_ROUND]
            )
            for car in candidates:
                hold.car = car
                hold.vehicle_class = hold.vehicle_class or car.vehicle_class
                hold.location = hold.location or car.location
                hold.return_location = hold.return_location or hold.location
                hold.period = (starts_at, ends_at + _turnaround(car))
                try:
                    with transaction.atomic():
                        if move:
                            hold.save(update_fields=["car", "vehicle_class", "location", "return_location", "period"])
                        else:
                            hold.save(force_insert=True)
                    return car
                except IntegrityError as exc:
                    if _constraint_of(exc) != "reservation_no_overlap":
                        raise
                except OperationalError as exc:
                    if _sqlstate(exc) != DEADLOCK:
                        raise  # a deadlock on this car (another writer's insert): the next one may do
            if candidates:
                continue  # every one was taken meanwhile: read the free cars again
            busy = free.first()
            if busy is None:
                return None
            # Free by the last commit, but locked by a transaction still deciding: wait for it, then look again.
            list(Car.objects.filter(id=busy.id).select_for_update(no_key=True, of=("self",)))
    return None


DEADLOCK = "40P01"


def _sqlstate(exc: Exception) -> str | None:
    return getattr(exc.__cause__, "sqlstate", None)


def _turnaround(car: Car) -> timedelta:
    return timedelta(minutes=car.vehicle_class.turnaround_minutes if car.vehicle_class else 0)


def _db_now() -> datetime:
    """The database's clock: every instance writes one timeline, whatever its own clock says."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement_timestamp()")
        now: datetime = cursor.fetchone()[0]
    return now


def _answer(reservation_id: UUID) -> Reservation:
    return selectors.with_codes(Reservation.objects.filter(id=reservation_id)).get()


def _replay_window(
    existing: Reservation,
    car_id: UUID | None,
    booked_class: VehicleClass | None,
    starts_at: datetime,
    ends_at: datetime,
) -> Reservation:
    """A window reserve with an id that exists: the same request again is answered with its hold."""
    if existing.state == ReservationState.RELEASED:
        metrics.reservation_outcome("spent")
        raise errors.ReservationConflict("This reservation id was released; a new hold needs a new id.")
    same = (
        existing.kind == HoldKind.RENTAL
        and existing.ends_at == ends_at
        and (existing.car_id == car_id if car_id is not None else existing.vehicle_class_id == booked_class.id)  # type: ignore[union-attr]
    )
    if not same:
        metrics.reservation_outcome("conflict")
        raise errors.ReservationConflict("This reservation id already holds another car or window.")
    metrics.reservation_outcome("replayed")
    return _answer(existing.id)


def _reservation_take_car(*, reservation_id: UUID, car_id: UUID) -> tuple[Reservation, bool]:
    """v1: hold the car from now on, open-ended, and mark it rented (a walk-in). Returns (reservation, created).

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
    if existing.car_id != car_id or existing.kind != HoldKind.RENTAL or existing.ends_at is not None:
        metrics.reservation_outcome("conflict")
        raise errors.ReservationConflict("This reservation id already holds another car or window.")
    metrics.reservation_outcome("replayed")
    return _answer(existing.id)


def reservation_release(
    *,
    reservation_id: UUID,
    odometer_km: int | None = None,
    location: str | None = None,
    unless_picked_up: bool = False,
) -> Reservation:
    """End the hold and, when its car was picked up, free the car — with the odometer read at the return and at
    the return branch (a one-way return moves the car). Releasing twice is a no-op that returns the released
    reservation.

    An id inventory never held is spent all the same (a tombstone is stored) and answered ReservationNotFound:
    a reserve with that id arriving later — a request that stalled on the way — is refused, so it can never
    hold a car for a rental that has already failed.

    `unless_picked_up` (a cancel, a no-show): a hold whose car has left is not released — 409 reservation_conflict,
    for a person to look at — since the car is out with a customer whatever the caller believes."""
    branch = _location_named(location)
    params = {
        **statements.PARAMS,
        "id": reservation_id,
        "odometer_km": odometer_km,
        "location_id": branch.id if branch else None,
        "unless_picked_up": unless_picked_up,
    }
    for _ in range(3):
        try:
            with _own_transaction():
                rows = list(Reservation.objects.raw(statements.RESERVATION_RELEASE, params))
        except IntegrityError as exc:
            _raise_if_odometer_decrease(exc)
            raise
        if rows:
            if rows[0].is_tombstone:
                metrics.release_outcome("tombstone")
                raise errors.ReservationNotFound(_SPENT)
            metrics.release_outcome("released")
            return rows[0]
        existing = selectors.with_codes(Reservation.objects.filter(id=reservation_id)).first()
        if existing is not None and existing.kind == HoldKind.BLOCK:
            raise errors.ReservationNotFound()  # a block is staff's: DELETE /cars/{id}/blocks/{block_id}/
        if (
            unless_picked_up
            and existing is not None
            and existing.state == ReservationState.ACTIVE
            and existing.picked_up_at is not None
        ):
            metrics.release_outcome("refused_picked_up")
            raise errors.ReservationConflict("The car was picked up for this hold: it is released at its return.")
        if existing is not None and existing.state == ReservationState.RELEASED:
            if existing.is_tombstone:
                metrics.release_outcome("tombstone")
                raise errors.ReservationNotFound(_SPENT)
            metrics.release_outcome("already_released")
            return existing
        # A reserve of this id committed while the statement ran: end that hold in the next round.
    raise errors.ReservationConflict("This reservation changed under every attempt to release it; try again.")


_SPENT = "No reservation with this id; the id is now spent and can never hold a car."


def _rental_hold_for_update(reservation_id: UUID) -> Reservation:
    """The booking service's active hold, its row locked; released is a conflict, a tombstone or block not found."""
    # The lock is taken on the hold's row alone, no join: a join's other row (its car) would be the one of this
    # statement's snapshot, and a hold moved meanwhile (a reassign that committed while this waited) would then
    # no longer match it and look gone.
    hold = (
        Reservation.objects.select_for_update()
        .filter(id=reservation_id, kind=HoldKind.RENTAL, car__isnull=False)
        .first()
    )
    if hold is None:
        raise errors.ReservationNotFound()
    hold.car = Car.objects.select_related("vehicle_class").get(id=hold.car_id)
    if hold.state == ReservationState.RELEASED:
        raise errors.ReservationConflict("This hold was released.")
    return hold


def _early_pickup() -> timedelta:
    return timedelta(minutes=settings.INVENTORY_EARLY_PICKUP_MINUTES)


@transaction.atomic
def reservation_pick_up(*, reservation_id: UUID, odometer_km: int | None = None) -> Reservation:
    """The car leaves for this hold: it becomes `rented` (and its odometer what was read). Up to
    INVENTORY_EARLY_PICKUP_MINUTES early when the car is free until the hold starts (the hold then starts now).
    Picking up twice answers the hold.

    Locks the hold, then takes the car (an UPDATE of an available car, as v1's walk-in does), then moves the hold's
    start: the hold's row is only locked, not changed, while this waits for the car, so a walk-in that holds the
    car's lock never waits for this in turn."""
    hold = _rental_hold_for_update(reservation_id)
    if hold.picked_up_at is not None:
        return _answer(hold.id)
    now = _db_now()
    if now < hold.starts_at - _early_pickup():
        raise errors.NotStarted(
            f"The hold starts at {hold.starts_at.isoformat()}; pick up from "
            f"{settings.INVENTORY_EARLY_PICKUP_MINUTES} minutes before."
        )
    if hold.ends_at is not None and now >= hold.ends_at:
        raise errors.ReservationConflict("The hold's window is over; it cannot be picked up any more.")
    changes: dict[str, Any] = {"status": CarStatus.RENTED, "updated_at": now}
    if odometer_km is not None:
        changes["odometer_km"] = odometer_km
    try:
        with transaction.atomic():
            taken = Car.objects.filter(id=hold.car_id, status=CarStatus.AVAILABLE).update(**changes)
    except IntegrityError as exc:
        _raise_if_odometer_decrease(exc)
        raise
    if not taken:
        status = Car.objects.filter(id=hold.car_id).values_list("status", flat=True).get()
        if status == CarStatus.RENTED:
            raise errors.CarNotReturned()
        raise errors.CarUnavailable(f"The car is {status}.")
    fields = ["picked_up_at"]
    hold.picked_up_at = now
    if now < hold.starts_at:
        hold.period = (now, hold.period.upper)
        fields.append("period")
    try:
        with transaction.atomic():
            hold.save(update_fields=fields)
    except IntegrityError as exc:
        if _constraint_of(exc) != "reservation_no_overlap":
            raise
        raise errors.NotStarted("The car is held until this hold starts; pick it up then.") from exc
    return _answer(hold.id)


@transaction.atomic
def reservation_extend(*, reservation_id: UUID, ends_at: datetime) -> Reservation:
    """Move the hold's end (later, or earlier), turnaround kept after it. Into another hold or block: 409
    extension_conflict, nothing changed (the exclusion constraint decides)."""
    hold = _rental_hold_for_update(reservation_id)
    if ends_at <= hold.starts_at:
        raise errors.ReturnBeforePickup("The new end must come after the hold starts.")
    if ends_at <= _db_now():
        raise errors.ReturnBeforePickup("The new end is in the past.")
    hold.ends_at = ends_at
    hold.period = (hold.starts_at, ends_at + _turnaround(hold.car))
    try:
        with transaction.atomic():
            hold.save(update_fields=["ends_at", "period"])
    except IntegrityError as exc:
        if _constraint_of(exc) != "reservation_no_overlap":
            raise
        raise errors.ExtensionConflict() from exc
    return _answer(hold.id)


@transaction.atomic
def reservation_reassign(
    *, reservation_id: UUID, from_car_id: UUID | None = None, to_car_id: UUID | None = None
) -> Reservation:
    """Move a hold not yet picked up to another car of its class at its branch, free for the rest of its window
    (best fit, as a reserve by class chooses), or to `to_car_id` (any car at the branch: the front desk's choice,
    an upgrade). With `from_car_id`, a hold already moved off that car is answered as it is (a retried call
    moves nothing twice). None free: 409 class_unavailable (or car_unavailable for `to_car_id`), nothing
    changed."""
    hold = _rental_hold_for_update(reservation_id)
    if (from_car_id is not None and hold.car_id != from_car_id) or (to_car_id is not None and hold.car_id == to_car_id):
        return _answer(hold.id)
    if hold.picked_up_at is not None:
        raise errors.ReservationConflict("The car was picked up: this hold cannot move to another car.")
    if hold.ends_at is None:
        raise errors.ReservationConflict("An open-ended hold is picked up at once; it cannot move.")
    booked_class = hold.vehicle_class_id or hold.car.vehicle_class_id
    branch = hold.location_id or hold.car.location_id
    starts_at = max(hold.starts_at, _db_now())
    if to_car_id is not None:
        cars = Car.objects.filter(id=to_car_id, location_id=branch)
        if not cars.exists():
            raise errors.ReservedCarNotFound("No car with this id at the hold's branch.")
    else:
        cars = Car.objects.filter(vehicle_class_id=booked_class, location_id=branch).exclude(id=hold.car_id)
    # Moved in place: a pick-up or extend waiting on the hold's lock finds it, on its new car, once this commits.
    if _hold_a_free_car(hold, cars, starts_at=starts_at, ends_at=hold.ends_at, move=True) is None:
        if to_car_id is not None:
            raise errors.CarUnavailable("That car is not free for the rest of the window.")
        raise errors.ClassUnavailable("No other car of this class at this branch is free for the rest of the window.")
    return _answer(hold.id)


def block_create(*, car_id: UUID, starts_at: datetime, ends_at: datetime, reason: str) -> Reservation:
    """Staff take a car out for a window (maintenance, a transfer): a hold of its own kind under the same
    exclusion constraint, so it cannot overlap a booking and no booking can overlap it. 409 car_unavailable."""
    if ends_at <= starts_at:
        raise errors.ReturnBeforePickup("A block must end after it starts.")
    selectors.car_get(car_id=car_id)
    with transaction.atomic():
        # The car's lock first, as a reserve takes it: the two queue on it instead of deadlocking on each other's
        # insert (each waiting in the exclusion check for the other).
        car = Car.objects.select_for_update(no_key=True, of=("self",)).select_related("location").get(id=car_id)
        return _block_insert(car, starts_at, ends_at, reason)


def _block_insert(car: Car, starts_at: datetime, ends_at: datetime, reason: str) -> Reservation:
    if car.status == CarStatus.RETIRED:
        raise errors.CarUnavailable("The car is retired.")
    block = Reservation(
        id=uuid4(),
        kind=HoldKind.BLOCK,
        car=car,
        period=(starts_at, ends_at),
        ends_at=ends_at,
        location=car.location,
        reason=reason,
    )
    try:
        with transaction.atomic():
            block.save(force_insert=True)
    except IntegrityError as exc:
        if _constraint_of(exc) != "reservation_no_overlap":
            raise
        raise errors.CarUnavailable("The car is held or blocked during this window.") from exc
    return _answer(block.id)


def block_delete(*, car_id: UUID, block_id: UUID) -> None:
    """Lift a block (it is kept, released, as the car's history). Lifting it twice is a no-op."""
    found = Reservation.objects.filter(id=block_id, car_id=car_id, kind=HoldKind.BLOCK)
    if not found.exists():
        raise errors.BlockNotFound()
    found.filter(state=ReservationState.ACTIVE).update(state=ReservationState.RELEASED)
