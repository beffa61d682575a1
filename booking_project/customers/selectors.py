"""Reads of customers."""
from __future__ import annotations

from uuid import UUID

from django.db.models import QuerySet

from . import errors
from .models import Customer


def customer_list() -> QuerySet[Customer]:
    return Customer.objects.all()


def customer_get(*, customer_id: UUID | str) -> Customer:
    try:
        return Customer.objects.get(id=UUID(str(customer_id)))
    except (ValueError, Customer.DoesNotExist):
        raise errors.CustomerNotFound() from None
