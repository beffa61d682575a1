"""Reads of rentals."""

from __future__ import annotations

from uuid import UUID

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef, Q, QuerySet
from django.db.models.functions import JSONObject, Now

from drivenow_contracts.server.fields import parse_uuid

from . import errors
from .models import Handover, Rental, RentalStatus


def rental_list() -> QuerySet[Rental]:
    """Rentals, each with its handovers as `handover_rows` (a JSON array from the same statement: a page costs
    what it cost before handovers existed)."""
    handovers = (
        Handover.objects.filter(rental=OuterRef("pk"))
        .order_by("at", "id")
        .values(
            row=JSONObject(
                kind="kind",
                odometer_km="odometer_km",
                fuel_eighths="fuel_eighths",
                damage="damage",
                location="location",
                staff_user="staff_user",
                at="at",
            )
        )
    )
    return Rental.objects.annotate(handover_rows=ArraySubquery(handovers))


def rentals_overdue() -> QuerySet[Rental]:
    """Active rentals past their return time (a walk-in's: its expected return, when it was given)."""
    return Rental.objects.filter(status=RentalStatus.ACTIVE).filter(
        Q(return_at__lt=Now()) | Q(return_at__isnull=True, expected_return_at__lt=Now())
    )


def rental_get(*, rental_id: UUID | str) -> Rental:
    parsed = parse_uuid(rental_id)  # "{…}", "urn:uuid:…", bare hex or "…\n" name nothing, as anything else
    if parsed is None:
        raise errors.RentalNotFound()
    try:
        return rental_list().get(id=parsed)
    except Rental.DoesNotExist:
        raise errors.RentalNotFound() from None
