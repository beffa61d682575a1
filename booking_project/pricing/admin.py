"""Prices in the back office: rate plans and extras (held to the API's rules), quotes to look at."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from drivenow_contracts.server.admin import ApiRulesForm, NulSafeAdmin

from .models import Extra, Quote, QuoteLine, RatePlan
from .serializers import ExtraInput, RatePlanInput


class RatePlanForm(ApiRulesForm):
    """Amounts, currency and codes checked by the API's own fields; the database's constraints (no two plans of a
    class and branch in force at once, validity ends after it starts) are checked by the model's validation, which
    Django runs on every admin form, and stay the last word."""

    api_serializer = RatePlanInput
    api_exempt = frozenset({"valid_from", "valid_until"})  # chosen with the admin's date widgets

    class Meta:
        model = RatePlan
        fields = [
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
        ]


@admin.register(RatePlan)
class RatePlanAdmin(NulSafeAdmin, admin.ModelAdmin):
    form = RatePlanForm
    list_display = ["vehicle_class", "location", "currency", "hour", "day", "week", "valid_from", "valid_until"]
    list_filter = ["vehicle_class", "location", "currency"]
    search_fields = ["=id", "vehicle_class", "location"]
    ordering = ["vehicle_class", "location", "valid_from"]
    readonly_fields = ["id", "created_at", "updated_at"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # bookings were priced by it and bill their return by it: end its validity instead


class ExtraForm(ApiRulesForm):
    api_serializer = ExtraInput

    class Meta:
        model = Extra
        fields = ["code", "name", "price", "currency", "per", "max_quantity"]


@admin.register(Extra)
class ExtraAdmin(NulSafeAdmin, admin.ModelAdmin):
    form = ExtraForm
    list_display = ["code", "name", "price", "currency", "per", "max_quantity"]
    list_filter = ["per", "currency"]
    search_fields = ["=id", "code", "name"]
    readonly_fields = ["id", "created_at"]


class QuoteLineInline(admin.TabularInline):
    model = QuoteLine
    fields = ["position", "kind", "description", "quantity", "unit_price", "amount", "rule"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Quote)
class QuoteAdmin(NulSafeAdmin, admin.ModelAdmin):
    """Quotes are never changed: a price given is a price kept."""

    list_display = [
        "id",
        "vehicle_class",
        "pickup_location",
        "pickup_at",
        "return_at",
        "total",
        "currency",
        "expires_at",
    ]
    list_filter = ["vehicle_class", "pickup_location", "currency"]
    search_fields = ["=id"]
    ordering = ["-created_at"]
    inlines = [QuoteLineInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
