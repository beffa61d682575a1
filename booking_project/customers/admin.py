"""Customers in the back office. Changes go through the same services as the API."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from drivenow_contracts.server.admin import ApiRulesForm, NulSafeAdmin

from . import services
from .models import Customer, CustomerStatus
from .serializers import CustomerCreateInput

WRITABLE = ["name", "email", "phone", "driver_licence"]


class CustomerAdminForm(ApiRulesForm):
    """The customer form, held to the API's rules (CustomerCreateInput): names cleaned by the same clean_text,
    emails, phones and licence numbers checked as sent, as the API checks them."""

    api_serializer = CustomerCreateInput

    class Meta:
        model = Customer
        fields = WRITABLE

    def clean_email(self) -> str:
        email = services.email_normalise(self.cleaned_data.get("email") or "")
        if not email:
            raise forms.ValidationError("An active customer needs an email.")
        # A friendly early answer; the partial unique index stays the last word.
        taken = Customer.objects.filter(status=CustomerStatus.ACTIVE, email__iexact=email).exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError("An active customer already has this email.")
        return email


@admin.register(Customer)
class CustomerAdmin(NulSafeAdmin, admin.ModelAdmin):
    form = CustomerAdminForm
    list_display = ["name", "email", "phone", "driver_licence", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["=id", "name", "email", "phone", "driver_licence"]
    ordering = ["-created_at"]
    readonly_fields = ["id", "status", "created_at", "updated_at", "deactivated_at"]
    actions = ["deactivate"]
    list_per_page = 50

    def has_change_permission(self, request: HttpRequest, obj: Customer | None = None) -> bool:
        # Anonymised for good: the page is view-only and a save (a stale form, a double click) is refused with
        # 403 here, before customer_update would refuse it with an error the admin cannot show.
        if obj is not None and obj.status == CustomerStatus.DEACTIVATED:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deactivate instead: rentals keep pointing at the customer

    def save_model(self, request: HttpRequest, obj: Customer, form: forms.ModelForm, change: bool) -> None:
        data = {name: form.cleaned_data[name] for name in WRITABLE if name in form.cleaned_data}
        if change:
            changed = {name: data[name] for name in form.changed_data if name in data}
            updated = services.customer_update(customer_id=obj.pk, **changed)
        else:
            updated = services.customer_create(**data)
        form.instance = updated
        obj.pk = updated.pk

    @admin.action(description="Deactivate (anonymise) selected customers", permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Customer]) -> None:
        count = 0
        for customer_id in queryset.values_list("id", flat=True):
            services.customer_deactivate(customer_id=customer_id)
            count += 1
        self.message_user(request, f"{count} customer(s) deactivated.", messages.SUCCESS)
