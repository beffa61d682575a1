"""Query filters of the car list (API.md): status, model (contains, any case), year, year_min, year_max."""
import django_filters

from .models import Car, CarStatus


class CarFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=CarStatus.choices)
    model = django_filters.CharFilter(lookup_expr="icontains", max_length=100)
    year = django_filters.NumberFilter()
    year_min = django_filters.NumberFilter(field_name="year", lookup_expr="gte")
    year_max = django_filters.NumberFilter(field_name="year", lookup_expr="lte")

    class Meta:
        model = Car
        fields = ["status", "model", "year", "year_min", "year_max"]
