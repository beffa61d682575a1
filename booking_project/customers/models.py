"""Customers: who rents. Email is unique among active customers; deactivation anonymises but keeps the row."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower


class CustomerStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    DEACTIVATED = "deactivated", "Deactivated"


EMAIL_UNIQUE_CONSTRAINT = "customer_email_unique_active"


class Customer(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254, blank=True)
    phone = models.CharField(max_length=32, blank=True, default="")
    driver_licence = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=16, choices=CustomerStatus.choices, default=CustomerStatus.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # Case-insensitive, and only among active customers: a deactivated (anonymised) customer frees it.
            models.UniqueConstraint(
                Lower("email"),
                condition=Q(status=CustomerStatus.ACTIVE),
                name=EMAIL_UNIQUE_CONSTRAINT,
                violation_error_code="customer_exists",
            ),
            models.CheckConstraint(condition=Q(status__in=CustomerStatus.values), name="customer_status_valid"),
            # An active customer can be reached; a deactivated one is anonymised and has its date.
            models.CheckConstraint(
                condition=Q(status=CustomerStatus.ACTIVE, deactivated_at__isnull=True) & ~Q(email="") & ~Q(name="")
                | Q(status=CustomerStatus.DEACTIVATED, deactivated_at__isnull=False),
                name="customer_contact_matches_status",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="customer_status_created_idx")]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.email else self.name
