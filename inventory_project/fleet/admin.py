"""The fleet staff's back office. Every change goes through the same services as the API."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from config.admin import axes_admin_declare_permissions
from drivenow_contracts.server.admin import ApiRulesForm, NulSafeAdmin
from drivenow_contracts.server.errors import DomainError

from . import errors, services
from .models import Car, CarStatus, Location, Reservation, VehicleClass
from .serializers import CarCreateInput, LocationCreateInput, VehicleClassCreateInput


class CarAdminForm(ApiRulesForm):
    """The car form, held to the API's rules (CarCreateInput): plates normalised and checked as the API does, the
    model cleaned by the same clean_text, the year in the API's range."""

    api_serializer = CarCreateInput
    # As long as the API takes a plate as typed (separators included); the serializer normalises it.
    plate = forms.CharField(max_length=CarCreateInput._declared_fields["plate"].max_length, required=False, strip=False)

    api_exempt = frozenset({"vehicle_class", "location"})  # chosen from their lists; the API names them by code

    class Meta:
        model = Car
        fields = ["model", "year", "plate", "status", "vehicle_class", "location"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "status" in self.fields:  # `rented` is never chosen by hand
            self.fields["status"].choices = [c for c in CarStatus.choices if c[0] != CarStatus.RENTED]

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
    list_display = ["model", "year", "plate", "status", "vehicle_class", "location", "odometer_km", "updated_at"]
    list_filter = ["status", "vehicle_class", "location", "model", "year"]
    list_select_related = ["vehicle_class", "location"]
    search_fields = ["model", "plate"]
    ordering = ["model", "year"]
    # The odometer is read at pick-up and return (never down); the admin shows it.
    readonly_fields = ["id", "odometer_km", "created_at", "updated_at"]
    inlines = [ReservationInline]
    actions = ["send_to_maintenance", "make_available", "retire", "delete_cars"]
    list_per_page = 50

    def get_readonly_fields(self, request: HttpRequest, obj: Car | None = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.status == CarStatus.RENTED:
            fields.append("status")  # only the reservation lifecycle moves a rented car
        return fields

    def save_model(self, request: HttpRequest, obj: Car, form: forms.ModelForm, change: bool) -> None:
        data = {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}
        for related in ("vehicle_class", "location"):  # the services take codes, as the API does
            if related in data:
                data[related] = data[related].code if data[related] is not None else None
        if change:
            updated = services.car_update(car_id=obj.pk, **data)
        else:
            updated = services.car_create(
                model=obj.model,
                year=obj.year,
                status=obj.status,
                plate=obj.plate or None,
                vehicle_class=obj.vehicle_class.code if obj.vehicle_class_id else None,
                location=obj.location.code if obj.location_id else None,
            )
        form.instance = updated
        obj.pk = updated.pk

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # a queryset delete, past car_delete's rules: delete_cars instead
        return actions

    def delete_model(self, request: HttpRequest, obj: Car) -> None:
        services.car_delete(car_id=obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Car]) -> None:
        """Each car through car_delete: one that was ever reserved stays (with a message), the others go."""
        deleted, refused = 0, []
        for car_id in queryset.values_list("id", flat=True):
            try:
                services.car_delete(car_id=car_id)
                deleted += 1
            except DomainError as exc:
                refused.append(f"{car_id}: {exc.detail}")
        if deleted:
            self.message_user(request, f"{deleted} car(s) deleted.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None) -> Any:
        """A car with reservations is never deleted (car_delete refuses it): its delete page answers with the
        service's reason and goes back to the car, rather than listing its history as "protected objects"."""
        car = self.get_object(request, unquote(object_id))
        if car is not None and self.has_delete_permission(request, car) and car.reservations.exists():
            return self._refuse_delete(request, car, errors.CarHasHistory())
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as exc:  # it gained a reservation since: the service has the last word
            return self._refuse_delete(request, car, exc)

    def _refuse_delete(self, request: HttpRequest, car: Car | None, exc: DomainError) -> HttpResponseRedirect:
        self.message_user(request, exc.detail, messages.ERROR)
        if car is None:
            return HttpResponseRedirect(reverse("admin:fleet_car_changelist"))
        return HttpResponseRedirect(reverse("admin:fleet_car_change", args=[quote(car.pk)]))

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

    @admin.action(description="Delete selected cars (never reserved ones; retire the others)", permissions=["delete"])
    def delete_cars(self, request: HttpRequest, queryset: QuerySet[Car]) -> None:
        self.delete_queryset(request, queryset)


@admin.register(Reservation)
class ReservationAdmin(NulSafeAdmin, admin.ModelAdmin):
    """Read-only history: holds are made and released by the booking service alone, blocks through the API (or
    the planning board's view of them)."""

    list_display = ["id", "kind", "car", "state", "period", "ends_at", "picked_up_at", "location", "created_at"]
    list_filter = ["kind", "state", "location", "vehicle_class"]
    search_fields = ["=id", "car__model", "car__plate", "reason"]
    list_select_related = ["car", "location"]
    readonly_fields = [
        "id",
        "kind",
        "car",
        "state",
        "period",
        "ends_at",
        "picked_up_at",
        "vehicle_class",
        "location",
        "return_location",
        "reason",
        "created_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class LocationAdminForm(ApiRulesForm):
    api_serializer = LocationCreateInput

    class Meta:
        model = Location
        fields = ["code", "name", "time_zone", "address", "opening_hours"]


@admin.register(Location)
class LocationAdmin(NulSafeAdmin, admin.ModelAdmin):
    """Branches, changed through the same services as the API."""

    form = LocationAdminForm
    list_display = ["code", "name", "time_zone", "updated_at"]
    search_fields = ["code", "name"]
    readonly_fields = ["id", "created_at", "updated_at"]

    def save_model(self, request: HttpRequest, obj: Location, form: forms.ModelForm, change: bool) -> None:
        data = {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}
        if change:
            saved = services.location_update(location_id=obj.pk, **data)
        else:
            saved = services.location_create(
                **{name: form.cleaned_data[name] for name in LocationAdminForm.Meta.fields}
            )
        form.instance = saved
        obj.pk = saved.pk


class VehicleClassAdminForm(ApiRulesForm):
    api_serializer = VehicleClassCreateInput

    class Meta:
        model = VehicleClass
        fields = ["code", "name", "seats", "transmission", "turnaround_minutes", "min_rental_minutes"]


@admin.register(VehicleClass)
class VehicleClassAdmin(NulSafeAdmin, admin.ModelAdmin):
    """Vehicle classes, changed through the same services as the API."""

    form = VehicleClassAdminForm
    list_display = ["code", "name", "seats", "transmission", "turnaround_minutes", "min_rental_minutes"]
    search_fields = ["code", "name"]
    readonly_fields = ["id", "created_at", "updated_at"]

    def save_model(self, request: HttpRequest, obj: VehicleClass, form: forms.ModelForm, change: bool) -> None:
        data = {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}
        if change:
            saved = services.vehicle_class_update(vehicle_class_id=obj.pk, **data)
        else:
            fields = VehicleClassAdminForm.Meta.fields
            saved = services.vehicle_class_create(**{name: form.cleaned_data[name] for name in fields})
        form.instance = saved
        obj.pk = saved.pk


axes_admin_declare_permissions()
