"""Query filters of the customer list: status, and email (exact, any case)."""
import django_filters

from .models import Customer, CustomerStatus


class CustomerFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=CustomerStatus.choices)
    email = django_filters.CharFilter(lookup_expr="iexact", max_length=254)

    class Meta:
        model = Customer
        fields = ["status", "email"]
