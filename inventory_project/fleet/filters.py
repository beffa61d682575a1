"""Query filters of the car list: status, model (contains, any case), year, year_min, year_max, and v2's
vehicle_class and location (by code); and of the booking service's list of holds: state, car_id."""

import django_filters

from drivenow_contracts.server.filters import FilterSet, IntegerFilter, TextFilter, UUIDFilter

from .models import Car, CarStatus, Reservation, ReservationState


class CarFilter(FilterSet):
    status = django_filters.ChoiceFilter(choices=CarStatus.choices)
    model = TextFilter(lookup_expr="icontains")
    year = IntegerFilter()
    year_min = IntegerFilter(field_name="year", lookup_expr="gte")
    year_max = IntegerFilter(field_name="year", lookup_expr="lte")
    vehicle_class = TextFilter(field_name="vehicle_class__code")
    location = TextFilter(field_name="location__code")

    class Meta:
        model = Car
        fields = ["status", "model", "year", "year_min", "year_max", "vehicle_class", "location"]


class ReservationFilter(FilterSet):
    state = django_filters.ChoiceFilter(choices=ReservationState.choices)
    car_id = UUIDFilter(field_name="car_id")

    class Meta:
        model = Reservation
        fields = ["state", "car_id"]
