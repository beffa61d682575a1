"""Shapes of what the price API reads and writes. Input parsing only; the rules live in services and rules."""

from __future__ import annotations

from rest_framework import serializers

from drivenow_contracts.server.fields import (
    PlainTextField,
    RefusedFieldsMixin,
    StrictDateTimeField,
    StrictIntegerField,
    code_field,
)

from .currencies import MINOR_DIGITS
from .models import Charge, Extra, ExtraPer, Quote, QuoteLine, RatePlan
from .services import STAFF_CHARGE_KINDS

# The most an amount column holds (PostgreSQL integer), in minor units: 21,474,836.47 EUR.
AMOUNT_MAX = 2_147_483_647
# How many of one extra a quote may ask for, and how many extras.
QUANTITY_MAX = 100
EXTRAS_MAX = 20


def currency_field(**kwargs: object) -> serializers.ChoiceField:
    """An ISO 4217 code (the schema lists them: anything else is refused as 400 invalid)."""
    return serializers.ChoiceField(choices=sorted(MINOR_DIGITS), **kwargs)  # type: ignore[arg-type]


def amount_field(**kwargs: object) -> StrictIntegerField:
    """An amount in minor units: a JSON integer, never fractional or negative."""
    kwargs.setdefault("min_value", 1)
    return StrictIntegerField(max_value=AMOUNT_MAX, **kwargs)  # type: ignore[arg-type]


class RatePlanInput(RefusedFieldsMixin, serializers.Serializer):
    refused_fields = frozenset({"id", "created_at", "updated_at"})

    vehicle_class = code_field()
    location = code_field(required=False, allow_null=True, help_text="Absent or null: every branch.")
    currency = currency_field()
    hour = amount_field()
    day = amount_field()
    week = amount_field()
    valid_from = StrictDateTimeField()
    valid_until = StrictDateTimeField(required=False, allow_null=True, help_text="Absent or null: open-ended.")
    km_per_day = StrictIntegerField(
        required=False, allow_null=True, min_value=0, max_value=100_000, help_text="Absent or null: unlimited."
    )
    per_extra_km = amount_field(required=False, allow_null=True, min_value=0)
    one_way_fee = amount_field(required=False, min_value=0)
    fuel_per_eighth = amount_field(required=False, min_value=0)

    def validate_location(self, value: str | None) -> str:
        return value or ""


class RatePlanOutput(serializers.ModelSerializer):
    location = serializers.SerializerMethodField()

    class Meta:
        model = RatePlan
        fields = [
            "id",
            "vehicle_class",
            "location",
            "currency",
            "hour",
            "day",
            "week",
            "valid_from",
            "valid_until",
            "km_per_day",
            "per_extra_km",
            "one_way_fee",
            "fuel_per_eighth",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_location(self, plan: RatePlan) -> str | None:
        return plan.location or None


class ExtraInput(RefusedFieldsMixin, serializers.Serializer):
    refused_fields = frozenset({"id", "created_at"})

    code = code_field()
    name = PlainTextField(max_length=100)
    price = amount_field()
    currency = currency_field()
    per = serializers.ChoiceField(choices=ExtraPer.choices)
    max_quantity = StrictIntegerField(required=False, min_value=1, max_value=QUANTITY_MAX, default=1)


class ExtraOutput(serializers.ModelSerializer):
    class Meta:
        model = Extra
        fields = ["id", "code", "name", "price", "currency", "per", "max_quantity", "created_at"]
        read_only_fields = fields


class QuoteExtraInput(serializers.Serializer):
    code = code_field()
    quantity = StrictIntegerField(required=False, min_value=1, max_value=QUANTITY_MAX, default=1)


class QuoteInput(serializers.Serializer):
    vehicle_class = code_field()
    pickup_location = code_field()
    return_location = code_field(required=False)
    pickup_at = StrictDateTimeField()
    return_at = StrictDateTimeField()
    # A ListField, so the schema says maxItems (a serializer's many=True max_length it does not): random-seed
    # fuzzing sent 25 extras, which the schema allowed and the API refused.
    extras = serializers.ListField(child=QuoteExtraInput(), required=False, max_length=EXTRAS_MAX)


class QuoteLineOutput(serializers.ModelSerializer):
    class Meta:
        model = QuoteLine
        fields = ["kind", "description", "quantity", "unit_price", "amount", "rule"]
        read_only_fields = fields


class QuoteOutput(serializers.ModelSerializer):
    lines = QuoteLineOutput(many=True, read_only=True)

    class Meta:
        model = Quote
        fields = [
            "id",
            "vehicle_class",
            "pickup_location",
            "return_location",
            "pickup_at",
            "return_at",
            "extras",
            "lines",
            "total",
            "currency",
            "expires_at",
            "created_at",
        ]
        read_only_fields = fields


class ChargeOutput(serializers.ModelSerializer):
    class Meta:
        model = Charge
        fields = [
            "id",
            "kind",
            "description",
            "quantity",
            "unit_price",
            "amount",
            "currency",
            "source",
            "rule",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class ChargeInput(serializers.Serializer):
    """A staff line: an adjustment (negative: a credit) or a damage charge."""

    kind = serializers.ChoiceField(choices=[(kind.value, kind.label) for kind in STAFF_CHARGE_KINDS])
    description = PlainTextField(max_length=200)
    amount = StrictIntegerField(min_value=-AMOUNT_MAX, max_value=AMOUNT_MAX, help_text="Minor units.")
    currency = currency_field(required=False, help_text="Only for a rental with no charges yet.")
