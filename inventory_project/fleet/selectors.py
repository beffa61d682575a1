"""Reads of the fleet."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from django.contrib.postgres.fields import DateTimeRangeField
from django.db.models import (
    BooleanField,
    Count,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Now

from drivenow_contracts.server.fields import parse_uuid

from . import errors
from .models import Car, CarStatus, HoldKind, Location, Reservation, ReservationState, VehicleClass


def car_list() -> QuerySet[Car]:
    """Every car, with its class and branch (the answer names them by code) in the same statement."""
    return Car.objects.select_related("vehicle_class", "location")


def car_get(*, car_id: UUID | str) -> Car:
    parsed = parse_uuid(car_id)  # "{…}", "urn:uuid:…", bare hex or "…\n" name nothing, as anything else
    if parsed is None:
        raise errors.CarNotFound()
    try:
        return car_list().get(id=parsed)
    except Car.DoesNotExist:
        raise errors.CarNotFound() from None


def reservation_list() -> QuerySet[Reservation]:
    """The booking service's holds, released or not, with the codes an answer names; a spent id's tombstone is no
    hold, and staff's blocks are not the booking service's (its reconciler compares this list with its rentals)."""
    return with_codes(Reservation.objects.filter(car__isnull=False, kind=HoldKind.RENTAL))


def with_codes(holds: QuerySet[Reservation]) -> QuerySet[Reservation]:
    """The class and branches each hold names, by code, in the same statement (statements._CODES does the same)."""
    return holds.annotate(
        vehicle_class_code=F("vehicle_class__code"),
        location_code=F("location__code"),
        return_location_code=F("return_location__code"),
        car_model=F("car__model"),
        car_plate=F("car__plate"),
    )


def car_schedule(*, car_id: UUID | str, starts_at: datetime, ends_at: datetime) -> list[Reservation]:
    """The car's holds and blocks that touch [starts_at, ends_at), earliest first: what the planning board draws.
    Released rentals are listed too (where the car was); released blocks (cancelled) are not."""
    car = car_get(car_id=car_id)
    holds = Reservation.objects.filter(car=car, period__overlap=_tstzrange(starts_at, ends_at)).exclude(
        kind=HoldKind.BLOCK, state=ReservationState.RELEASED
    )
    return list(with_codes(holds).order_by("period__startswith", "id"))


def board_cars(*, location: Location, vehicle_class: VehicleClass | None = None) -> QuerySet[Car]:
    """The planning board's rows: the cars at the branch now (of the class, when one is chosen), by class, model
    and plate. Retired cars are left out: nothing can hold them any more."""
    cars = Car.objects.filter(location=location).exclude(status=CarStatus.RETIRED)
    if vehicle_class is not None:
        cars = cars.filter(vehicle_class=vehicle_class)
    return cars.select_related("vehicle_class").order_by("vehicle_class__code", "model", "plate", "id")


def board_holds(*, car_ids: Iterable[UUID], starts_at: datetime, ends_at: datetime) -> list[Reservation]:
    """Every hold and block of these cars that touches [starts_at, ends_at), plus every overdue hold of theirs
    (the car is still out, however long ago its window ended), in one statement: a page of the planning board,
    whatever its number of cars. Each is annotated `overdue` (overdue_holds()'s rule) and `turnaround_minutes`
    (its class's). Released rentals are listed (where the car was); lifted blocks are not. By car, then start."""
    overdue = Exists(overdue_holds().filter(pk=OuterRef("pk")))
    holds = (
        Reservation.objects.filter(car_id__in=list(car_ids))
        .exclude(kind=HoldKind.BLOCK, state=ReservationState.RELEASED)
        .annotate(overdue=overdue, turnaround_minutes=F("vehicle_class__turnaround_minutes"))
        .filter(Q(period__overlap=_tstzrange(starts_at, ends_at)) | Q(overdue=True))
    )
    return list(with_codes(holds).order_by("car_id", "period__startswith", "id"))


def _tstzrange(starts_at: datetime, ends_at: datetime) -> Func:
    return Func(
        Value(starts_at, output_field=DateTimeField()),
        Value(ends_at, output_field=DateTimeField()),
        Value("[)"),
        function="tstzrange",
        output_field=DateTimeRangeField(),
    )


def overdue_holds() -> QuerySet[Reservation]:
    """Rental holds whose car left and should be back by now."""
    return Reservation.objects.filter(
        state=ReservationState.ACTIVE, kind=HoldKind.RENTAL, picked_up_at__isnull=False, ends_at__lt=Now()
    )


def reservation_get(*, reservation_id: UUID | str) -> Reservation:
    parsed = parse_uuid(reservation_id)
    if parsed is None:
        raise errors.ReservationNotFound()
    try:
        return reservation_list().get(id=parsed)
    except Reservation.DoesNotExist:
        raise errors.ReservationNotFound() from None


def location_list() -> QuerySet[Location]:
    return Location.objects.all()


def location_get(*, location_id: UUID | str) -> Location:
    return _by_id(Location, location_id, errors.LocationNotFound)


def location_named(code: str) -> Location:
    """The branch a body or query names by its code."""
    found = Location.objects.filter(code=code).first()
    if found is None:
        raise errors.NamedLocationNotFound(f"No branch has the code {code!r}.")
    return found


def vehicle_class_list() -> QuerySet[VehicleClass]:
    return VehicleClass.objects.all()


def vehicle_class_get(*, vehicle_class_id: UUID | str) -> VehicleClass:
    return _by_id(VehicleClass, vehicle_class_id, errors.VehicleClassNotFound)


def vehicle_class_named(code: str) -> VehicleClass:
    """The vehicle class a body or query names by its code."""
    found = VehicleClass.objects.filter(code=code).first()
    if found is None:
        raise errors.NamedVehicleClassNotFound(f"No vehicle class has the code {code!r}.")
    return found


Row = TypeVar("Row", Location, VehicleClass)


def _by_id(model: type[Row], pk: UUID | str, not_found: type[errors.DomainError]) -> Row:
    parsed = parse_uuid(pk)
    found = None if parsed is None else model.objects.filter(id=parsed).first()
    if found is None:
        raise not_found()
    return found


def _window_bounds(starts_at: datetime | None, ends_at: datetime | None) -> tuple[Any, Any | None]:
    """The start and end of [starts_at, ends_at + the car's class's turnaround): how long a car is away for a
    rental of this window (the car is the outer query's). No start: from now (the database's clock); no end (None):
    for good."""
    start: Any = Now() if starts_at is None else Value(starts_at, output_field=DateTimeField())
    if ends_at is None:
        return start, None
    turnaround = Func(
        Coalesce(OuterRef("vehicle_class__turnaround_minutes"), 0),
        function="make_interval",
        template="make_interval(mins => %(expressions)s)",
    )
    end: Any = Func(Value(ends_at, output_field=DateTimeField()), turnaround, function="", arg_joiner=" + ")
    if starts_at is None:  # never before now, whatever the clocks of this instance and the database say
        end = Func(Now(), end, function="GREATEST", output_field=DateTimeField())
    return start, end


def cars_free_during(cars: QuerySet[Car], *, starts_at: datetime | None, ends_at: datetime | None) -> QuerySet[Car]:
    """The cars of `cars` that could be away for the whole window, turnaround included: in service (not in
    maintenance or retired), no hold or block that is not released overlaps it, and not overdue (a car that should
    be back and is not is no car to promise anyone). A car out now on a rental that ends before the window is
    free for it. The same predicate decides what availability counts and the cars a reservation chooses from.

    A car's holds never overlap one another (the exclusion constraint), so one of them overlaps the window exactly
    when the last one that starts before the window ends does: one probe of the btree index on (car, start of the
    hold) per car (migration 0008), whatever the number of holds — where asking "any hold overlapping?" of the GiST
    index costs more the more holds there are."""
    start, end = _window_bounds(starts_at, ends_at)
    window = Func(
        start,
        end if end is not None else Value(None, output_field=DateTimeField()),
        Value("[)"),
        function="tstzrange",
        output_field=DateTimeRangeField(),
    )
    holds = Reservation.objects.filter(car_id=OuterRef("pk")).exclude(state=ReservationState.RELEASED)
    if end is not None:
        holds = holds.filter(period__startswith__lt=end)
    last_overlaps = holds.order_by("-period__startswith").values(
        overlaps=Func(F("period"), window, function="", arg_joiner=" && ", output_field=BooleanField())
    )[:1]
    overdue = overdue_holds().filter(car_id=OuterRef("pk"))
    return (
        cars.filter(status__in=[CarStatus.AVAILABLE, CarStatus.RENTED])
        # no hold starting before the window ends: NULL, so free
        .alias(held=Coalesce(Subquery(last_overlaps, output_field=BooleanField()), Value(False)))
        .filter(held=False)
        .exclude(Exists(overdue))
    )


def best_fit(cars: QuerySet[Car], *, starts_at: datetime, ends_at: datetime) -> QuerySet[Car]:
    """Free cars ordered by how snugly the window fits between their neighbouring holds: the smallest gap before
    it plus the smallest after it (a car with nothing on either side counts a year there), so long free stretches
    stay whole for long rentals. Ties: the car that has been in the fleet longest, then the id. For a free car the
    hold before is the last to start before the window (holds never overlap), the hold after the first to start
    after it: both one probe of the index on (car, start of the hold)."""
    active = Reservation.objects.filter(car_id=OuterRef("pk")).exclude(state=ReservationState.RELEASED)
    start = Value(starts_at, output_field=DateTimeField())
    end = Value(ends_at, output_field=DateTimeField())
    before = active.filter(period__startswith__lt=start).order_by("-period__startswith").values("period__endswith")[:1]
    after = active.filter(period__startswith__gte=end).order_by("period__startswith").values("period__startswith")[:1]
    year = Value(timedelta(days=365), output_field=DurationField())
    gap_before = Coalesce(ExpressionWrapper(start - Subquery(before), output_field=DurationField()), year)
    gap_after = Coalesce(ExpressionWrapper(Subquery(after) - end, output_field=DurationField()), year)
    return cars.annotate(gap=ExpressionWrapper(gap_before + gap_after, output_field=DurationField())).order_by(
        "gap", "created_at", "id"
    )


def branches_open_check(
    pickup: Location | None, dropoff: Location | None, *, starts_at: datetime, ends_at: datetime
) -> None:
    """Raises OutsideOpeningHours unless the pick-up branch is open at the start and the return branch at the end,
    each on its own wall clock: what a reserve and availability both refuse."""
    if pickup is not None and not pickup.is_open_at(starts_at):
        raise errors.OutsideOpeningHours(f"{pickup.code} is closed at the pick-up time.")
    if dropoff is not None and not dropoff.is_open_at(ends_at):
        raise errors.OutsideOpeningHours(f"{dropoff.code} is closed at the return time.")


def availability(
    *,
    location: str,
    starts_at: datetime,
    ends_at: datetime,
    vehicle_class: str | None = None,
    return_location: str | None = None,
) -> list[dict[str, object]]:
    """Per vehicle class (or the one asked for), how many of its cars at the branch are free for the window, as a
    reserve would find them; classes with none free (or whose minimum rental the window is shorter than) are
    listed with 0. Raises NamedLocationNotFound / NamedVehicleClassNotFound, and OutsideOpeningHours when the
    branch is closed at pick-up or the return branch at return (a reserve would be refused)."""
    branch = location_named(location)
    dropoff = location_named(return_location) if return_location else branch
    branches_open_check(branch, dropoff, starts_at=starts_at, ends_at=ends_at)
    classes = [vehicle_class_named(vehicle_class)] if vehicle_class else list(VehicleClass.objects.order_by("code"))
    # A class whose minimum rental is longer than the window has nothing to offer for it.
    bookable = [c for c in classes if ends_at - starts_at >= timedelta(minutes=c.min_rental_minutes)]
    free = cars_free_during(
        Car.objects.filter(location=branch, vehicle_class__in=bookable), starts_at=starts_at, ends_at=ends_at
    )
    counts = dict(free.values_list("vehicle_class__code").annotate(n=Count("id")).order_by())
    return [{"vehicle_class": c.code, "available_cars": counts.get(c.code, 0)} for c in classes]
