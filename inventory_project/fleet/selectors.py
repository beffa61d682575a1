"""Reads of the fleet."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from django.contrib.postgres.fields import DateTimeRangeField
from django.db.models import Count, DateTimeField, Exists, Func, OuterRef, QuerySet, Value
from django.db.models.functions import Coalesce, Now

from drivenow_contracts.server.fields import parse_uuid

from . import errors
from .models import Car, CarStatus, Location, Reservation, ReservationState, VehicleClass


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
    """Holds, released or not; a spent id's tombstone is no hold and is not listed."""
    return Reservation.objects.filter(car__isnull=False)


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


def _window_with_turnaround(starts_at: datetime | None, ends_at: datetime | None) -> Func:
    """[starts_at, ends_at + the car's class's turnaround): how long a car is away for a rental of this window. No
    start: from now (the database's clock); no end: for good."""
    start: Any = Now() if starts_at is None else Value(starts_at, output_field=DateTimeField())
    end: Any = Value(None, output_field=DateTimeField())
    if ends_at is not None:
        turnaround = Func(
            Coalesce(OuterRef("vehicle_class__turnaround_minutes"), 0),
            function="make_interval",
            template="make_interval(mins => %(expressions)s)",
        )
        end = Func(Value(ends_at, output_field=DateTimeField()), turnaround, function="", arg_joiner=" + ")
        if starts_at is None:  # never before now, whatever the clocks of this instance and the database say
            end = Func(Now(), end, function="GREATEST", output_field=DateTimeField())
    return Func(start, end, Value("[)"), function="tstzrange", output_field=DateTimeRangeField())


def cars_free_during(cars: QuerySet[Car], *, starts_at: datetime | None, ends_at: datetime | None) -> QuerySet[Car]:
    """The cars of `cars` that could be away for the whole window, turnaround included: available now (not in
    maintenance or retired) and no hold that is not released overlaps it. The same predicate decides what
    availability counts and the cars a reservation by class chooses from."""
    holds = Reservation.objects.filter(
        car_id=OuterRef("pk"), period__overlap=_window_with_turnaround(starts_at, ends_at)
    )
    return cars.filter(status=CarStatus.AVAILABLE).exclude(Exists(holds.exclude(state=ReservationState.RELEASED)))


def availability(
    *, location: str, starts_at: datetime, ends_at: datetime, vehicle_class: str | None = None
) -> list[dict[str, object]]:
    """Per vehicle class (or the one asked for), how many of its cars at the branch are free for the window;
    classes with none free are listed with 0. Raises NamedLocationNotFound / NamedVehicleClassNotFound."""
    branch = location_named(location)
    classes = [vehicle_class_named(vehicle_class)] if vehicle_class else list(VehicleClass.objects.order_by("code"))
    free = cars_free_during(
        Car.objects.filter(location=branch, vehicle_class__in=classes), starts_at=starts_at, ends_at=ends_at
    )
    counts = dict(free.values_list("vehicle_class__code").annotate(n=Count("id")).order_by())
    return [{"vehicle_class": c.code, "available_cars": counts.get(c.code, 0)} for c in classes]
