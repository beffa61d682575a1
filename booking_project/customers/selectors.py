"""Reads of customers."""

from __future__ import annotations

from uuid import UUID

from django.db.models import QuerySet

from drivenow_contracts.server.fields import parse_uuid

from . import errors
from .models import Customer


def customer_list() -> QuerySet[Customer]:
    return Customer.objects.all()


def customer_get(*, customer_id: UUID | str) -> Customer:
    parsed = parse_uuid(customer_id)  # "{…}", "urn:uuid:…", bare hex or "…\n" name nothing, as anything else
    if parsed is None:
        raise errors.CustomerNotFound()
    try:
        return Customer.objects.get(id=parsed)
    except Customer.DoesNotExist:
        raise errors.CustomerNotFound() from None
