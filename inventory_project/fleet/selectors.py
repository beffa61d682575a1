"""Reads of the fleet."""

from __future__ import annotations

from uuid import UUID

from django.db.models import QuerySet

from drivenow_contracts.server.fields import parse_uuid

from . import errors
from .models import Car, Reservation


def car_list() -> QuerySet[Car]:
    return Car.objects.all()


def car_get(*, car_id: UUID | str) -> Car:
    parsed = parse_uuid(car_id)  # "{…}", "urn:uuid:…", bare hex or "…\n" name nothing, as anything else
    if parsed is None:
        raise errors.CarNotFound()
    try:
        return Car.objects.get(id=parsed)
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
