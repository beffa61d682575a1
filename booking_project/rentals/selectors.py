"""Reads of rentals."""

from __future__ import annotations

from uuid import UUID

from django.db.models import QuerySet

from drivenow_contracts.server.fields import parse_uuid

from . import errors
from .models import Rental


def rental_list() -> QuerySet[Rental]:
    return Rental.objects.all()


def rental_get(*, rental_id: UUID | str) -> Rental:
    parsed = parse_uuid(rental_id)  # "{…}", "urn:uuid:…", bare hex or "…\n" name nothing, as anything else
    if parsed is None:
        raise errors.RentalNotFound()
    try:
        return Rental.objects.get(id=parsed)
    except Rental.DoesNotExist:
        raise errors.RentalNotFound() from None
