"""Reads of rentals."""
from __future__ import annotations

from uuid import UUID

from django.db.models import QuerySet

from . import errors
from .models import Rental


def rental_list() -> QuerySet[Rental]:
    return Rental.objects.all()


def rental_get(*, rental_id: UUID | str) -> Rental:
    try:
        return Rental.objects.get(id=UUID(str(rental_id)))
    except (ValueError, Rental.DoesNotExist):
        raise errors.RentalNotFound() from None
