"""Query filters of the car list: status, model (contains, any case), year, year_min, year_max, and v2's
vehicle_class and location (by code), available_from + available_until (free for that whole window); and of
the booking service's list of holds: state, car_id."""

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils import timezone

from drivenow_contracts.server.filters import DateTimeFilter, FilterSet, IntegerFilter, TextFilter, UUIDFilter

from . import errors, selectors
from .models import Car, CarStatus, Reservation, ReservationState


class CarFilter(FilterSet):
    status = django_filters.ChoiceFilter(choices=CarStatus.choices)
    model = TextFilter(lookup_expr="icontains")
    year = IntegerFilter()
    year_min = IntegerFilter(field_name="year", lookup_expr="gte")
    year_max = IntegerFilter(field_name="year", lookup_expr="lte")
    vehicle_class = TextFilter(field_name="vehicle_class__code")
    location = TextFilter(field_name="location__code")
    available_from = DateTimeFilter(
        method="_window", help_text="Free from then on (with available_until: for that whole window)."
    )
    available_until = DateTimeFilter(
        method="_window", help_text="Free until then (from now, or from available_from); after it, 422."
    )

    class Meta:
        model = Car
        fields = [
            "status",
            "model",
            "year",
            "year_min",
            "year_max",
            "vehicle_class",
            "location",
            "available_from",
            "available_until",
        ]

    def _window(self, queryset: QuerySet[Car], name: str, value: Any) -> QuerySet[Car]:
        return queryset  # both bounds are applied together, in filter_queryset

    def filter_queryset(self, queryset: QuerySet[Car]) -> QuerySet[Car]:
        queryset = super().filter_queryset(queryset)
        starts_at, ends_at = (self.form.cleaned_data.get(name) for name in ("available_from", "available_until"))
        if starts_at is None and ends_at is None:
            return queryset
        if ends_at is not None and ends_at <= (starts_at or timezone.now()):
            raise errors.ReturnBeforePickup("available_until must come after available_from (or now).")
        return selectors.cars_free_during(queryset, starts_at=starts_at, ends_at=ends_at)


class ReservationFilter(FilterSet):
    state = django_filters.ChoiceFilter(choices=ReservationState.choices)
    car_id = UUIDFilter(field_name="car_id")

    class Meta:
        model = Reservation
        fields = ["state", "car_id"]
