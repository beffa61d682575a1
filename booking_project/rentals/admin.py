"""Rentals, idempotency keys and the outbox in the back office. Statuses move only through the services."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.db.models import QuerySet
from django.http import HttpRequest

from config.admin import axes_admin_declare_permissions
from customers.models import Customer
from drivenow_contracts.server.admin import NulSafeAdmin
from drivenow_contracts.server.errors import DomainError
from drivenow_contracts.server.fields import parse_uuid
from pricing.models import Charge

from . import selectors, services
from .models import Handover, IdempotencyKey, OutboxMessage, OutboxStatus, Rental
from .outbox import outbox_retry_now


class ReadOnlyAdmin(NulSafeAdmin, admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RecentIdFilter(admin.SimpleListFilter):
    """Offers the ids behind the most recent rentals only (a page of choices, however many there are), yet filters
    by any id in the query string; a malformed one is Django's "bad lookup" page, not a crash."""

    field: str  # the Rental column filtered on
    RECENT_ROWS, CHOICES = 500, 50

    def recent_ids(self) -> list[UUID]:
        recent = Rental.objects.order_by("-created_at").values_list(self.field, flat=True)[: self.RECENT_ROWS]
        return list(dict.fromkeys(recent))[: self.CHOICES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Rental]) -> QuerySet[Rental]:
        if not self.value():
            return queryset
        wanted = parse_uuid(self.value())
        if wanted is None:
            raise IncorrectLookupParameters(f"{self.parameter_name} must be a UUID")
        return queryset.filter(**{self.field: wanted})


class CarFilter(RecentIdFilter):
    """The cars of the most recent rentals (any car can also be found by pasting its id in the search box)."""

    title, parameter_name, field = "car", "car_id", "car_id"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(str(car_id), str(car_id)) for car_id in self.recent_ids()]


class CustomerFilter(RecentIdFilter):
    """The customers of the most recent rentals, by name (any customer: their name or email in the search box)."""

    title, parameter_name, field = "customer", "customer_id", "customer_id"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        ids = self.recent_ids()
        names = dict(Customer.objects.filter(id__in=ids).values_list("id", "name"))
        return [(str(customer_id), names.get(customer_id, str(customer_id))) for customer_id in ids]


class OverdueFilter(admin.SimpleListFilter):
    """Active rentals past their return time (selectors.rentals_overdue), or all the others."""

    title, parameter_name = "overdue", "overdue"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Overdue"), ("no", "Not overdue")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Rental]) -> QuerySet[Rental]:
        late = selectors.rentals_overdue().values("id")
        if self.value() == "yes":
            return queryset.filter(id__in=late)
        if self.value() == "no":
            return queryset.exclude(id__in=late)
        return queryset


class HandoverInline(admin.TabularInline):
    model = Handover
    fields = ["kind", "odometer_km", "fuel_eighths", "damage", "location", "staff_user", "at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ChargeInline(admin.TabularInline):
    """The rental's ledger, as it is: lines are added through the API (or by the return, a cancel, a no-show) and
    never changed."""

    model = Charge
    fields = [
        "kind",
        "description",
        "quantity",
        "unit_price",
        "amount",
        "currency",
        "source",
        "created_by",
        "created_at",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "Charges (the ledger)"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Rental)
class RentalAdmin(ReadOnlyAdmin):
    """Read-only: rentals start through the API (which reserves the car); staff pick up, end and cancel them
    through the services (the actions)."""

    list_display = [
        "id",
        "car",
        "customer",
        "status",
        "pickup_location",
        "vehicle_class",
        "pickup_at",
        "return_at",
        "started_at",
        "ended_at",
        "failure_code",
    ]
    list_filter = [
        "status",
        OverdueFilter,
        "pickup_location",
        "vehicle_class",
        "failure_code",
        CarFilter,
        CustomerFilter,
        "pickup_at",
    ]
    search_fields = ["=id", "=car_id", "car_plate", "car_model", "customer__name", "customer__email"]
    list_select_related = ["customer"]
    readonly_fields = [
        "id",
        "car",
        "car_id",
        "customer",
        "status",
        "failure_code",
        "vehicle_class",
        "pickup_location",
        "return_location",
        "pickup_at",
        "return_at",
        "created_at",
        "started_at",
        "expected_return_at",
        "ended_at",
        "updated_at",
        "price",
        "currency",
        "quote",
    ]
    exclude = ["car_model", "car_plate"]
    inlines = [HandoverInline, ChargeInline]
    actions = ["pick_up_rentals", "end_rentals", "cancel_rentals"]
    list_per_page = 50

    @admin.display(description="car", ordering="car_plate")
    def car(self, rental: Rental) -> str:
        """The car as the front desk knows it: model and plate (the id when inventory never named it)."""
        if rental.car_id is None:
            return "—"
        if not rental.car_model:
            return str(rental.car_id)
        return f"{rental.car_model} · {rental.car_plate}" if rental.car_plate else rental.car_model

    def has_end_permission(self, request: HttpRequest) -> bool:
        """Picking up, ending and cancelling change a rental (through the services): the model's change
        permission, though the page itself stays read-only."""
        return request.user.has_perm("rentals.change_rental")

    def _each(self, request: HttpRequest, queryset: QuerySet[Rental], act: Any, done: str) -> None:
        count, refused = 0, []
        for rental_id in queryset.values_list("id", flat=True):
            try:
                act(rental_id)
                count += 1
            except DomainError as exc:
                refused.append(f"{rental_id}: {exc.detail}")
        if count:
            self.message_user(request, f"{count} rental(s) {done}.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)

    @admin.action(description="Pick up selected reserved rentals (no readings)", permissions=["end"])
    def pick_up_rentals(self, request: HttpRequest, queryset: QuerySet[Rental]) -> None:
        readings = services.Readings(staff_user=request.user.get_username())
        self._each(
            request,
            queryset,
            lambda rental_id: services.rental_pick_up(rental_id=rental_id, readings=readings),
            "picked up; their cars are out",
        )

    @admin.action(description="End selected active rentals (frees their cars)", permissions=["end"])
    def end_rentals(self, request: HttpRequest, queryset: QuerySet[Rental]) -> None:
        self._each(
            request,
            queryset,
            lambda rental_id: services.rental_end(rental_id=rental_id),
            "ended; their cars are being released",
        )

    @admin.action(description="Cancel selected reserved rentals (frees their cars)", permissions=["end"])
    def cancel_rentals(self, request: HttpRequest, queryset: QuerySet[Rental]) -> None:
        self._each(
            request,
            queryset,
            lambda rental_id: services.rental_cancel(rental_id=rental_id),
            "cancelled; their cars are being released",
        )


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "kind",
        "reservation_id",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "created_at",
        "delivered_at",
    ]
    list_filter = ["status", "kind"]
    search_fields = ["=reservation_id"]
    readonly_fields = list_display
    actions = ["retry_now"]
    list_per_page = 100

    def has_retry_permission(self, request: HttpRequest) -> bool:
        """Making messages due again changes them (through outbox_retry_now): the model's change permission."""
        return request.user.has_perm("rentals.change_outboxmessage")

    @admin.action(description="Retry now (pending or dead messages)", permissions=["retry"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> None:
        ids = list(queryset.exclude(status=OutboxStatus.DELIVERED).values_list("id", flat=True))
        count = outbox_retry_now(message_ids=ids)
        self.message_user(request, f"{count} message(s) due now; the relay delivers them next.", messages.SUCCESS)


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdmin):
    list_display = ["key", "state", "rental", "response_status", "created_at", "completed_at"]
    list_select_related = ["rental"]  # the nullable key is not followed by the admin's own select_related()
    list_filter = ["state", "response_status"]
    search_fields = ["=key"]
    readonly_fields = [
        "key",
        "fingerprint",
        "state",
        "rental",
        "response_status",
        "response_body",
        "created_at",
        "completed_at",
    ]


axes_admin_declare_permissions()
