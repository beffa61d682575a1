"""Query filters of the customer list: status, and email (exact, any case); and the ordering both booking lists use."""
import django_filters
from django.db.models import QuerySet
from rest_framework import filters
from rest_framework.request import Request
from rest_framework.views import APIView

from .models import Customer, CustomerStatus


class CustomerFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=CustomerStatus.choices)
    email = django_filters.CharFilter(lookup_expr="iexact", max_length=254)

    class Meta:
        model = Customer
        fields = ["status", "email"]


class StableOrderingFilter(filters.OrderingFilter):
    """`?ordering=` with the primary key as the last tie-breaker. Sorting by a value many rows share (a null
    `started_at`, a common name) leaves PostgreSQL free to order the ties differently for each LIMIT/OFFSET,
    so pages would skip some rows and repeat others."""

    def get_ordering(self, request: Request, queryset: QuerySet, view: APIView) -> list[str]:  # type: ignore[type-arg]
        ordering = list(super().get_ordering(request, queryset, view) or [])
        if not {"pk", "-pk", "id", "-id"} & set(ordering):
            ordering.append("id")
        return ordering
