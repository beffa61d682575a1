"""The fleet staff's back office. Every change goes through the same services as the API."""
from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from drivenow_servicekit.admin import NulSafeAdmin
from drivenow_servicekit.errors import DomainError

from . import services
from .models import Car, CarStatus, Reservation


class CarAdminForm(forms.ModelForm):
    class Meta:
        model = Car
        fields = ["model", "year", "plate", "status"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "status" in self.fields:  # `rented` is never chosen by hand
            self.fields["status"].choices = [c for c in CarStatus.choices if c[0] != CarStatus.RENTED]

    def clean_plate(self) -> str | None:
        plate = self.cleaned_data.get("plate")
        return services.plate_normalise(plate) if plate else None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.instance.pk and not self.instance._state.adding and "status" in data:
            try:
                services.car_transition_check(self.instance.status, data["status"])
            except DomainError as exc:
                self.add_error("status", exc.detail)
        return data


class ReservationInline(admin.TabularInline):
    model = Reservation
    fields = ["id", "state", "period", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-created_at"]
    verbose_name_plural = "Reservation history"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Car)
class CarAdmin(NulSafeAdmin, admin.ModelAdmin):
    form = CarAdminForm
    list_display = ["model", "year", "plate", "status", "updated_at"]
    list_filter = ["status", "model", "year"]
    search_fields = ["model", "plate"]
    ordering = ["model", "year"]
    readonly_fields = ["id", "created_at", "updated_at"]
    inlines = [ReservationInline]
    actions = ["send_to_maintenance", "make_available", "retire"]
    list_per_page = 50

    def get_readonly_fields(self, request: HttpRequest, obj: Car | None = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.status == CarStatus.RENTED:
            fields.append("status")  # only the reservation lifecycle moves a rented car
        return fields

    def save_model(self, request: HttpRequest, obj: Car, form: forms.ModelForm, change: bool) -> None:
        data = {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}
        if change:
            updated = services.car_update(car_id=obj.pk, **data)
        else:
            updated = services.car_create(
                model=obj.model, year=obj.year, status=obj.status, plate=obj.plate or None
            )
        form.instance = updated
        obj.pk = updated.pk

    def delete_model(self, request: HttpRequest, obj: Car) -> None:
        services.car_delete(car_id=obj.pk)

    def _bulk_status(self, request: HttpRequest, queryset: QuerySet[Car], status: str) -> None:
        done, refused = 0, []
        for car_id in queryset.values_list("id", flat=True):
            try:
                services.car_change_status(car_id=car_id, status=status)
                done += 1
            except DomainError as exc:
                refused.append(f"{car_id}: {exc.detail}")
        if done:
            self.message_user(request, f"{done} car(s) now {status}.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)

    @admin.action(description="Send selected cars to maintenance", permissions=["change"])
    def send_to_maintenance(self, request: HttpRequest, queryset: QuerySet[Car]) -> None:
        self._bulk_status(request, queryset, CarStatus.MAINTENANCE)

    @admin.action(description="Make selected cars available", permissions=["change"])
    def make_available(self, request: HttpRequest, queryset: QuerySet[Car]) -> None:
        self._bulk_status(request, queryset, CarStatus.AVAILABLE)

    @admin.action(description="Retire selected cars", permissions=["change"])
    def retire(self, request: HttpRequest, queryset: QuerySet[Car]) -> None:
        self._bulk_status(request, queryset, CarStatus.RETIRED)


@admin.register(Reservation)
class ReservationAdmin(NulSafeAdmin, admin.ModelAdmin):
    """Read-only history: holds are made and released by the booking service alone."""

    list_display = ["id", "car", "state", "period", "created_at"]
    list_filter = ["state"]
    search_fields = ["id", "car__model", "car__plate"]
    list_select_related = ["car"]
    readonly_fields = ["id", "car", "state", "period", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
