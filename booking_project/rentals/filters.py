"""Query filters of the rental list (API.md): status, car_id, customer_id."""

import django_filters

from drivenow_contracts.server.filters import FilterSet, UUIDFilter

from .models import Rental, RentalStatus


class RentalFilter(FilterSet):
    status = django_filters.ChoiceFilter(choices=RentalStatus.choices)
    car_id = UUIDFilter()
    customer_id = UUIDFilter(field_name="customer_id")

    class Meta:
        model = Rental
        fields = ["status", "car_id", "customer_id"]
