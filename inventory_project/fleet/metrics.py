"""Business metrics: reservations by outcome and cars by status (read from the database at scrape time)."""

from __future__ import annotations

from collections.abc import Iterator

from django.db import connection
from django.db.models import Count
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

RESERVATIONS = Counter("inventory_reservations_total", "Reservation requests by outcome.", ["outcome"])
RELEASES = Counter("inventory_releases_total", "Release requests by outcome.", ["outcome"])


def reservation_outcome(outcome: str) -> None:
    RESERVATIONS.labels(outcome=outcome).inc()


def release_outcome(outcome: str) -> None:
    RELEASES.labels(outcome=outcome).inc()


class CarsByStatusCollector(Collector):
    """`inventory_cars{status=...}`: one GROUP BY per scrape, so every instance reports the same truth."""

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Lets the registry learn the name without a query at start-up.
        yield GaugeMetricFamily("inventory_cars", "Cars in the fleet by status.", labels=["status"])

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from .models import Car, CarStatus

        gauge = GaugeMetricFamily("inventory_cars", "Cars in the fleet by status.", labels=["status"])
        counts = dict.fromkeys(CarStatus.values, 0)
        try:
            rows = Car.objects.order_by().values("status").annotate(n=Count("id")).values_list("status", "n")
            counts.update(dict(rows))
        except Exception:  # the database being down must not break /metrics
            connection.close_if_unusable_or_obsolete()
            return
        for status, count in counts.items():
            gauge.add_metric([status], count)
        yield gauge


cars_by_status = CarsByStatusCollector()
