"""Shapes of what the payments API reads and writes."""

from __future__ import annotations

from rest_framework import serializers

from pricing.serializers import amount_field, currency_field

from .models import Payment, PaymentEvent, Purpose

# A card token (Stripe: pm_…, tok_…): letters, digits and underscores.
METHOD_PATTERN = r"^[A-Za-z0-9_]{1,100}$"


class PaymentInput(serializers.Serializer):
    purpose = serializers.ChoiceField(choices=Purpose.choices)
    amount = amount_field(required=False, help_text="Minor units; by default the deposit or the balance due.")
    currency = currency_field(required=False, help_text="Only for a rental with no price yet.")
    payment_method = serializers.RegexField(
        METHOD_PATTERN,
        required=False,
        help_text="The card token from the terminal or the customer's browser (fake: tok_visa, tok_decline, …).",
    )


class AmountInput(serializers.Serializer):
    amount = amount_field(required=False, help_text="Minor units; by default all that is left.")


class PaymentEventOutput(serializers.ModelSerializer):
    class Meta:
        model = PaymentEvent
        fields = ["source", "kind", "event_id", "outcome", "amount", "detail", "created_at"]


class PaymentOutput(serializers.ModelSerializer):
    rental_id = serializers.UUIDField(read_only=True)
    events = PaymentEventOutput(many=True, read_only=True)

    class Meta:
        model = Payment
        fields = [
            "id",
            "rental_id",
            "purpose",
            "provider",
            "ref",
            "status",
            "currency",
            "amount",
            "captured",
            "refunded",
            "refund_requested",
            "closing",
            "decline_code",
            "next_action_url",
            "created_at",
            "updated_at",
            "events",
        ]


class WebhookOutput(serializers.Serializer):
    received = serializers.BooleanField()
    duplicate = serializers.BooleanField()
