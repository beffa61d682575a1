"""Business metrics: rentals started / ended / failed, inventory call latency, and the outbox backlog."""

from __future__ import annotations

from collections.abc import Iterator

from django.db import connection
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

RENTALS_STARTED = Counter("booking_rentals_started_total", "Rentals that got their car (became active).")
RENTALS_ENDED = Counter("booking_rentals_ended_total", "Rentals ended (completed).")
RENTALS_BOOKED = Counter("booking_rentals_booked_total", "Bookings ahead that got their hold (became reserved).")
RENTALS_CLOSED = Counter(
    "booking_rentals_closed_total", "Bookings that ended without a rental: cancelled or no-show.", ["outcome"]
)
REASSIGNED_AHEAD = Counter(
    "booking_reassigned_ahead_total",
    "Bookings of an overdue car moved to another car before their pick-up, by outcome.",
    ["outcome"],
)
RENTALS_FAILED = Counter("booking_rentals_failed_total", "Rentals that failed to start, by failure code.", ["code"])
INVENTORY_CLIENT_SECONDS = Histogram(
    "booking_inventory_client_seconds",
    "Latency of each call (attempt) to inventory, by operation and outcome (HTTP status or `unreachable`).",
    ["operation", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


RELEASES_NOW = Counter(
    "booking_releases_delivered_now_total",
    "Releases a request tried to deliver at once when ending a rental, by outcome (`retry`: left to the relay).",
    ["outcome"],
)
RECONCILER_REPAIRS = Counter(
    "booking_reconciler_repairs_total",
    "Holds in inventory the reconciler released because their rental was not active, by the rental's status "
    "(`missing`: booking has no such rental).",
    ["rental_status"],
)
RECONCILER_UNHELD = Counter(
    "booking_reconciler_active_rentals_without_hold_total",
    "Active rentals the reconciler found without a hold in inventory (each one logged; needs a person).",
)


def release_delivered_now(outcome: str) -> None:
    RELEASES_NOW.labels(outcome=outcome).inc()


def rental_started() -> None:
    RENTALS_STARTED.inc()


def rental_booked() -> None:
    RENTALS_BOOKED.inc()


def rental_closed(outcome: str) -> None:
    RENTALS_CLOSED.labels(outcome=outcome).inc()


def rental_ended() -> None:
    RENTALS_ENDED.inc()


def rental_failed(code: str) -> None:
    RENTALS_FAILED.labels(code=code).inc()


def inventory_call_observed(operation: str, seconds: float, outcome: str) -> None:
    """The InventoryClient's observer."""
    INVENTORY_CLIENT_SECONDS.labels(operation=operation, outcome=outcome).observe(seconds)


class OutboxBacklogCollector(Collector):
    """`booking_outbox_pending`, `booking_outbox_oldest_pending_age_seconds` and `booking_outbox_dead`, read at
    scrape time, so every instance reports the same truth and a stuck relay shows as a growing age."""

    def _families(self) -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily("booking_outbox_pending", "Outbox messages not yet delivered to inventory."),
            GaugeMetricFamily(
                "booking_outbox_oldest_pending_age_seconds", "Age of the oldest undelivered outbox message (0: none)."
            ),
            GaugeMetricFamily("booking_outbox_dead", "Outbox messages inventory refused for good (need a look)."),
        )

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield from self._families()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from .models import OutboxMessage, OutboxStatus

        pending, oldest_age, dead = self._families()
        try:
            rows = dict(
                OutboxMessage.objects.order_by()
                .filter(status__in=[OutboxStatus.PENDING, OutboxStatus.DEAD])
                .values("status")
                .annotate(n=Count("id"))
                .values_list("status", "n")
            )
            oldest = OutboxMessage.objects.filter(status=OutboxStatus.PENDING).aggregate(t=Min("created_at"))["t"]
        except Exception:  # the database being down must not break /metrics
            connection.close_if_unusable_or_obsolete()
            return
        pending.add_metric([], rows.get(OutboxStatus.PENDING, 0))
        oldest_age.add_metric([], max(0.0, (timezone.now() - oldest).total_seconds()) if oldest else 0.0)
        dead.add_metric([], rows.get(OutboxStatus.DEAD, 0))
        yield pending
        yield oldest_age
        yield dead


outbox_backlog = OutboxBacklogCollector()


class OverdueCollector(Collector):
    """`booking_rentals_overdue`: active rentals past their return time, counted at scrape time."""

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily("booking_rentals_overdue", "Active rentals past their return time.")

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from .selectors import rentals_overdue

        family = GaugeMetricFamily("booking_rentals_overdue", "Active rentals past their return time.")
        try:
            family.add_metric([], rentals_overdue().count())
        except Exception:  # the database being down must not break /metrics
            connection.close_if_unusable_or_obsolete()
            return
        yield family


overdue = OverdueCollector()
