"""Every write to customers. Email uniqueness is the database's (partial unique index on lower(email))."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db import IntegrityError, transaction
from django.utils import timezone

from . import errors
from .models import EMAIL_UNIQUE_CONSTRAINT, Customer, CustomerStatus

ANONYMISED_NAME = "(deactivated customer)"


def email_normalise(raw: str) -> str:
    """Trim, and lower-case the domain (case-insensitive by RFC 5321); the local part is kept as typed."""
    local, _, domain = raw.strip().rpartition("@")
    return f"{local}@{domain.lower()}" if local else raw.strip()


def _save(customer: Customer, **kwargs: Any) -> None:
    try:
        with transaction.atomic():
            customer.save(**kwargs)
    except IntegrityError as exc:
        if getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) == EMAIL_UNIQUE_CONSTRAINT:
            raise errors.CustomerExists() from exc
        raise


@transaction.atomic
def customer_create(
    *, name: str, email: str, phone: str = "", driver_licence: str = "", id: UUID | None = None
) -> Customer:
    customer = Customer(name=name, email=email_normalise(email), phone=phone, driver_licence=driver_licence)
    if id is not None:
        customer.id = id
    _save(customer, force_insert=True)
    return customer


@transaction.atomic
def customer_update(*, customer_id: UUID, **changes: Any) -> Customer:
    """Change name, email, phone or driver licence of an active customer. Locks the row."""
    customer = _customer_for_update(customer_id)
    if customer.status != CustomerStatus.ACTIVE:
        raise errors.CustomerInactive("A deactivated customer cannot be changed.")
    if "email" in changes:
        changes["email"] = email_normalise(changes["email"])
    for field, value in changes.items():
        setattr(customer, field, value)
    _save(customer, update_fields=[*changes, "updated_at"])
    return customer


@transaction.atomic
def customer_deactivate(*, customer_id: UUID) -> Customer:
    """Anonymise the customer and stop them renting; their rentals stay. Deactivating twice changes nothing."""
    customer = _customer_for_update(customer_id)
    if customer.status == CustomerStatus.DEACTIVATED:
        return customer
    customer.name = ANONYMISED_NAME
    customer.email = customer.phone = customer.driver_licence = ""
    customer.status = CustomerStatus.DEACTIVATED
    customer.deactivated_at = timezone.now()
    customer.save()
    return customer


def _customer_for_update(customer_id: UUID) -> Customer:
    customer = Customer.objects.select_for_update().filter(id=customer_id).first()
    if customer is None:
        raise errors.CustomerNotFound()
    return customer
