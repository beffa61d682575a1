"""Query filters of the customer list: status, and email (exact, any case)."""

import django_filters

from drivenow_contracts.server.filters import FilterSet, TextFilter

from .models import Customer, CustomerStatus


class CustomerFilter(FilterSet):
    status = django_filters.ChoiceFilter(choices=CustomerStatus.choices)
    email = TextFilter(lookup_expr="iexact")

    class Meta:
        model = Customer
        fields = ["status", "email"]
