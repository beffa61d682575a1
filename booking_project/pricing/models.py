"""Prices (booking owns them): rate plans per vehicle class (and optionally per branch), extras, and quotes.

Amounts are integers in minor units with an ISO 4217 currency. The database refuses what must never be: two plans
for the same class and branch in force at once (an exclusion constraint), amounts that are not positive, a
validity that ends before it starts. Classes and branches live in inventory; a plan names them by code.
"""

from __future__ import annotations

import uuid

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeOperators
from django.db import models
from django.db.models import F, Func, Q


class TsTzRange(Func):
    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class RatePlan(models.Model):
    """What a class costs by the hour, day and week, in one currency, over a validity (open-ended when
    `valid_until` is empty), at one branch or (`location` blank) at every branch; a plan for the branch wins."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    vehicle_class = models.CharField(max_length=32)
    location = models.CharField(max_length=32, blank=True, default="", help_text="Blank: every branch.")
    currency = models.CharField(max_length=3)
    hour = models.PositiveIntegerField(help_text="Minor units.")
    day = models.PositiveIntegerField(help_text="Minor units.")
    week = models.PositiveIntegerField(help_text="Minor units.")
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField(null=True, blank=True)
    km_per_day = models.PositiveIntegerField(null=True, blank=True, help_text="Included km a day; empty: unlimited.")
    per_extra_km = models.PositiveIntegerField(null=True, blank=True, help_text="Minor units per km over it.")
    one_way_fee = models.PositiveIntegerField(default=0, help_text="Minor units, for a return at another branch.")
    fuel_per_eighth = models.PositiveIntegerField(default=0, help_text="Minor units per eighth of a tank missing.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["vehicle_class", "location", "valid_from", "id"]
        constraints = [
            ExclusionConstraint(
                name="rate_plan_no_overlap",
                expressions=[
                    ("vehicle_class", RangeOperators.EQUAL),
                    ("location", RangeOperators.EQUAL),
                    (TsTzRange("valid_from", "valid_until", models.Value("[)")), RangeOperators.OVERLAPS),
                ],
                violation_error_code="rate_plan_overlap",
                violation_error_message="Another plan for this class and branch is in force during this validity.",
            ),
            models.CheckConstraint(condition=Q(hour__gt=0, day__gt=0, week__gt=0), name="rate_plan_prices_positive"),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gt=F("valid_from")),
                name="rate_plan_valid_until_after_from",
            ),
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="rate_plan_currency_code"),
        ]

    def __str__(self) -> str:
        where = f" at {self.location}" if self.location else ""
        return f"{self.vehicle_class}{where} from {self.valid_from:%Y-%m-%d}"


class ExtraPer(models.TextChoices):
    DAY = "day", "Per day"
    RENTAL = "rental", "Per rental"


class Extra(models.Model):
    """Something added to a rental (a child seat, a GPS), priced per day or per rental, up to `max_quantity`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.CharField(max_length=32)
    name = models.CharField(max_length=100)
    price = models.PositiveIntegerField(help_text="Minor units.")
    currency = models.CharField(max_length=3)
    per = models.CharField(max_length=8, choices=ExtraPer.choices)
    max_quantity = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["code"], name="extra_code_unique"),
            models.CheckConstraint(condition=Q(price__gt=0), name="extra_price_positive"),
            models.CheckConstraint(condition=Q(max_quantity__gt=0), name="extra_max_quantity_positive"),
            models.CheckConstraint(condition=Q(per__in=ExtraPer.values), name="extra_per_valid"),
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="extra_currency_code"),
        ]

    def __str__(self) -> str:
        return self.code


class Quote(models.Model):
    """A price for a class at a branch for a window, fixed until `expires_at`: never changed once written."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    vehicle_class = models.CharField(max_length=32)
    pickup_location = models.CharField(max_length=32)
    return_location = models.CharField(max_length=32)
    pickup_at = models.DateTimeField()
    return_at = models.DateTimeField()
    extras = models.JSONField(default=list, blank=True, help_text='[{"code": …, "quantity": …}] as asked.')
    currency = models.CharField(max_length=3)
    total = models.BigIntegerField()
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="quote_total_not_negative"),
            models.CheckConstraint(condition=Q(return_at__gt=F("pickup_at")), name="quote_return_after_pickup"),
        ]

    def __str__(self) -> str:
        return f"{self.vehicle_class} {self.pickup_at:%Y-%m-%d} ({self.total} {self.currency})"


class QuoteLine(models.Model):
    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=16)
    description = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField()
    unit_price = models.BigIntegerField()
    amount = models.BigIntegerField()
    rule = models.CharField(max_length=100, help_text="Where the line came from: plan and unit, extra, fee.")

    class Meta:
        ordering = ["quote", "position"]
        constraints = [
            models.UniqueConstraint(fields=["quote", "position"], name="quote_line_position_unique"),
            models.CheckConstraint(condition=Q(amount=F("quantity") * F("unit_price")), name="quote_line_amount"),
        ]

    def __str__(self) -> str:
        return self.description


class ChargeKind(models.TextChoices):
    RENTAL = "rental", "Rental"
    EXTRA = "extra", "Extra"
    ONE_WAY = "one_way", "One-way return"
    LATE_RETURN = "late_return", "Late return"
    MILEAGE = "mileage", "Mileage"
    FUEL = "fuel", "Fuel"
    DAMAGE = "damage", "Damage"
    CANCELLATION = "cancellation", "Cancellation"
    NO_SHOW = "no_show", "No-show"
    ADJUSTMENT = "adjustment", "Adjustment"


class Charge(models.Model):
    """A line of a rental's ledger: append-only (a trigger refuses UPDATE and DELETE; a correction is a new
    adjustment line), and once per (rental, kind, source), so a retried booking, return, sweep or webhook never
    bills twice. The rental's `price` is the sum of its lines, kept in the transaction that adds one."""

    rental = models.ForeignKey("rentals.Rental", on_delete=models.PROTECT, related_name="charges")
    kind = models.CharField(max_length=16, choices=ChargeKind.choices)
    description = models.CharField(max_length=200)
    quantity = models.BigIntegerField(default=1)
    unit_price = models.BigIntegerField()
    amount = models.BigIntegerField(help_text="Minor units; negative for a credit.")
    currency = models.CharField(max_length=3)
    source = models.CharField(max_length=300, help_text="What wrote it: quote:<id>:<line>, staff:<key>, …")
    rule = models.CharField(max_length=100, blank=True, default="")
    created_by = models.CharField(max_length=150, blank=True, default="", help_text="The staff user, if any.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["rental", "id"]
        constraints = [
            models.UniqueConstraint(fields=["rental", "kind", "source"], name="charge_once_per_source"),
            models.CheckConstraint(condition=Q(kind__in=ChargeKind.values), name="charge_kind_valid"),
            models.CheckConstraint(condition=Q(amount=F("quantity") * F("unit_price")), name="charge_amount"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="charge_quantity_positive"),
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="charge_currency_code"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency}"
