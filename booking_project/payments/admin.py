"""Payments in the back office: each payment with its events (provider calls and webhooks), to look at. They move
only through the API, the relay and the provider's webhooks; the admin never edits an amount."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Payment, PaymentEvent
from .serializers import PaymentOutput

# What the API shows of a payment (its rental as a link), and who made it with which key.
PAYMENT_FIELDS = [
    *("rental" if name == "rental_id" else name for name in PaymentOutput.Meta.fields if name != "events"),
    "idempotency_key",
    "created_by",
]


class ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PaymentEventInline(ReadOnly, admin.TabularInline):
    model = PaymentEvent
    fields = ["created_at", "source", "kind", "event_id", "outcome", "amount", "detail"]
    readonly_fields = fields
    extra = 0


@admin.register(Payment)
class PaymentAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["created_at", "rental", "purpose", "status", "amount", "captured", "refunded", "currency"]
    list_filter = ["status", "purpose", "provider", "currency"]
    search_fields = ["=id", "=rental__id", "ref"]
    fields = PAYMENT_FIELDS
    readonly_fields = PAYMENT_FIELDS
    inlines = [PaymentEventInline]
    list_select_related = ["rental"]
    date_hierarchy = "created_at"


@admin.register(PaymentEvent)
class PaymentEventAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["created_at", "payment", "source", "kind", "outcome", "event_id"]
    list_filter = ["source", "provider", "outcome"]
    search_fields = ["event_id", "=payment__id"]
    fields = ["payment", "provider", "source", "kind", "event_id", "outcome", "amount", "detail", "created_at"]
    readonly_fields = fields
