"""Reads of the fleet."""

from __future__ import annotations

from datetime import datetime
from typing import Any
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
    parsed = parse_uuid(location_id)
    found = None if parsed is None else Location.objects.filter(id=parsed).first()
    if found is None:
        raise errors.LocationNotFound()
    return found


def vehicle_class_list() -> QuerySet[VehicleClass]:
    return VehicleClass.objects.all()


def vehicle_class_get(*, vehicle_class_id: UUID | str) -> VehicleClass:
    parsed = parse_uuid(vehicle_class_id)
    found = None if parsed is None else VehicleClass.objects.filter(id=parsed).first()
    if found is None:
        raise errors.VehicleClassNotFound()
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
    if not Location.objects.filter(code=location).exists():
        raise errors.NamedLocationNotFound(f"No branch has the code {location!r}.")
    classes = VehicleClass.objects.order_by("code")
    if vehicle_class is not None:
        classes = classes.filter(code=vehicle_class)
        if not classes.exists():
            raise errors.NamedVehicleClassNotFound(f"No vehicle class has the code {vehicle_class!r}.")
    free = cars_free_during(
        Car.objects.filter(location__code=location, vehicle_class__in=classes), starts_at=starts_at, ends_at=ends_at
    )
    counts = dict(free.values_list("vehicle_class__code").annotate(n=Count("id")).order_by())
    return [
        {"vehicle_class": code, "available_cars": counts.get(code, 0)}
        for code in classes.values_list("code", flat=True)
    ]
