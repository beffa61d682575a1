"""Query filters of the rental list (API.md): status, car_id, customer_id, and v2's overdue, pickup_from,
pickup_until, location (the pick-up branch) and vehicle_class."""

from typing import Any

import django_filters
from django.db.models import QuerySet

from drivenow_contracts.server.filters import DateTimeFilter, FilterSet, TextFilter, UUIDFilter

from . import selectors
from .models import Rental, RentalStatus


class RentalFilter(FilterSet):
    status = django_filters.ChoiceFilter(choices=RentalStatus.choices)
    car_id = UUIDFilter()
    customer_id = UUIDFilter(field_name="customer_id")
    overdue = django_filters.BooleanFilter(
        method="_overdue", help_text="true: active rentals past their return time; false: all the others."
    )
    pickup_from = DateTimeFilter(field_name="pickup_at", lookup_expr="gte")
    pickup_until = DateTimeFilter(field_name="pickup_at", lookup_expr="lt")
    location = TextFilter(field_name="pickup_location", help_text="The pick-up branch's code.")
    vehicle_class = TextFilter(field_name="vehicle_class")

    class Meta:
        model = Rental
        fields = ["status", "car_id", "customer_id", "overdue", "pickup_from", "pickup_until", "location"]

    def _overdue(self, queryset: QuerySet[Rental], name: str, value: Any) -> QuerySet[Rental]:
        late = selectors.rentals_overdue().values("id")
        return queryset.filter(id__in=late) if value else queryset.exclude(id__in=late)
