"""Reads of the fleet."""

from __future__ import annotations

from uuid import UUID

from django.db.models import QuerySet

from drivenow_contracts.server.fields import parse_uuid

from . import errors
from .models import Car, Location, Reservation, VehicleClass


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
