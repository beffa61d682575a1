"""Money metrics: what was captured and refunded by currency (revenue), payment operations by outcome, and how
long the provider takes to answer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection
from django.db.models import Count, Sum
from prometheus_client import Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

OPERATIONS = Counter(
    "booking_payment_operations_total",
    "Calls to the payment provider by operation and outcome (ok, declined, refused, unavailable).",
    ["provider", "operation", "outcome"],
)
PROVIDER_SECONDS = Histogram(
    "booking_payment_provider_seconds",
    "Latency of each call to the payment provider, by provider and operation.",
    ["provider", "operation"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
WEBHOOKS = Counter(
    "booking_payment_webhooks_total",
    "Webhooks received, by provider and outcome (acted, duplicate, unknown_payment, bad_signature, unsupported).",
    ["provider", "outcome"],
)


@contextmanager
def provider_call(provider: str, operation: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        PROVIDER_SECONDS.labels(provider, operation).observe(time.perf_counter() - started)


class MoneyCollector(Collector):
    """Revenue read from the payments at scrape time, so every process (the workers, the relay that captures at a
    return) is counted once: `booking_payments_captured_minor_total` and `…_refunded_minor_total` by currency (the
    revenue is their difference), and `booking_payments` by purpose and status."""

    def _families(self) -> tuple[CounterMetricFamily, CounterMetricFamily, GaugeMetricFamily]:
        return (
            CounterMetricFamily(
                "booking_payments_captured_minor", "Money captured from customers, minor units.", labels=["currency"]
            ),
            CounterMetricFamily(
                "booking_payments_refunded_minor", "Money refunded to customers, minor units.", labels=["currency"]
            ),
            GaugeMetricFamily("booking_payments", "Payments by purpose and status.", labels=["purpose", "status"]),
        )

    def describe(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        yield from self._families()

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        from .models import Payment

        captured, refunded, payments = self._families()
        try:
            money = list(Payment.objects.order_by().values("currency").annotate(c=Sum("captured"), r=Sum("refunded")))
            counts = list(Payment.objects.order_by().values("purpose", "status").annotate(n=Count("id")))
        except Exception:  # the database being down must not break /metrics
            connection.close_if_unusable_or_obsolete()
            return
        for row in money:
            captured.add_metric([row["currency"]], row["c"] or 0)
            refunded.add_metric([row["currency"]], row["r"] or 0)
        for row in counts:
            payments.add_metric([row["purpose"], row["status"]], row["n"])
        yield captured
        yield refunded
        yield payments


money = MoneyCollector()
