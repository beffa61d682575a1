"""Demo prices for the demo fleet (inventory's seed_demo: five classes at LON-LHR, TLV-AIR and TLV-CEN): a plan per
class and branch, in pounds at London and shekels at Tel Aviv, and two extras in each currency. Safe to run twice:
what exists is left as it is. Run by customers' seed_demo."""

from datetime import UTC, datetime

from django.core.management.base import BaseCommand
from django.db import transaction

from pricing import services
from pricing.models import Extra, ExtraPer, RatePlan

SINCE = datetime(2026, 1, 1, tzinfo=UTC)
# class: (hour, day, week) in GBP pence; ILS agorot are ×4.5, rounded to 10. Km a day included, per extra km.
PRICES = {
    "ECONOMY": (800, 3_900, 21_000),
    "COMPACT": (1_000, 4_900, 26_000),
    "EV": (1_200, 5_900, 32_000),
    "SUV": (1_600, 7_900, 44_000),
    "VAN": (1_800, 8_900, 49_000),
}
BRANCHES = {"LON-LHR": "GBP", "TLV-AIR": "ILS", "TLV-CEN": "ILS"}
EXTRAS = [
    ("CHILD-SEAT-GB", "Child seat", 700, "GBP", ExtraPer.DAY, 3),
    ("GPS-GB", "Satnav", 1_500, "GBP", ExtraPer.RENTAL, 1),
    ("CHILD-SEAT-IL", "Child seat", 3_000, "ILS", ExtraPer.DAY, 3),
    ("GPS-IL", "Satnav", 6_500, "ILS", ExtraPer.RENTAL, 1),
]


def _in(currency: str, pence: int) -> int:
    return pence if currency == "GBP" else int(round(pence * 4.5, -1))


class Command(BaseCommand):
    help = "Create the demo rate plans and extras (safe to run twice)."

    @transaction.atomic
    def handle(self, *args: object, **options: object) -> None:
        made = 0
        for branch, currency in BRANCHES.items():
            for vehicle_class, (hour, day, week) in PRICES.items():
                if RatePlan.objects.filter(vehicle_class=vehicle_class, location=branch).exists():
                    continue
                services.rate_plan_create(
                    vehicle_class=vehicle_class,
                    location=branch,
                    currency=currency,
                    hour=_in(currency, hour),
                    day=_in(currency, day),
                    week=_in(currency, week),
                    valid_from=SINCE,
                    km_per_day=250,
                    per_extra_km=_in(currency, 25),
                    one_way_fee=_in(currency, 5_000),
                    fuel_per_eighth=_in(currency, 900),
                )
                made += 1
        for code, name, price, currency, per, most in EXTRAS:
            if not Extra.objects.filter(code=code).exists():
                services.extra_create(code=code, name=name, price=price, currency=currency, per=per, max_quantity=most)
                made += 1
        self.stderr.write(f"demo prices: {made} made")
