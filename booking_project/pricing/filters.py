"""Query filters of the price lists: by class and branch (codes, exact)."""

from drivenow_contracts.server.filters import FilterSet, TextFilter

from .models import Extra, RatePlan


class RatePlanFilter(FilterSet):
    vehicle_class = TextFilter()
    location = TextFilter(help_text="A branch's code: its own plans (plans for every branch are listed by none).")

    class Meta:
        model = RatePlan
        fields = ["vehicle_class", "location"]


class ExtraFilter(FilterSet):
    per = TextFilter()

    class Meta:
        model = Extra
        fields = ["per"]
