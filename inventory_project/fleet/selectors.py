"""Reads of the fleet."""
from __future__ import annotations

from uuid import UUID

from django.db.models import QuerySet

from . import errors
from .models import Car, Reservation


def car_list() -> QuerySet[Car]:
    return Car.objects.all()


def car_get(*, car_id: UUID | str) -> Car:
    try:
        return Car.objects.get(id=UUID(str(car_id)))
    except (ValueError, Car.DoesNotExist):
        raise errors.CarNotFound() from None


def reservation_list() -> QuerySet[Reservation]:
    """Holds, released or not; a spent id's tombstone is no hold and is not listed."""
    return Reservation.objects.filter(car__isnull=False)


def reservation_get(*, reservation_id: UUID | str) -> Reservation:
    try:
        return reservation_list().get(id=UUID(str(reservation_id)))
    except (ValueError, Reservation.DoesNotExist):
        raise errors.ReservationNotFound() from None
