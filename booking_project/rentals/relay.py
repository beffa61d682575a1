"""The outbox relay worker's loop: deliver what is due; every so often fail stale pending rentals, purge expired
idempotency keys and old delivered messages; less often reconcile inventory's holds with booking's rentals.
Run by `manage.py run_outbox_relay`."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection

from drivenow_contracts import InventoryUnavailable
from drivenow_contracts.server.request_id import request_id_var

from .idempotency import idempotency_purge_expired
from .inventory import inventory_call_budget
from .outbox import (
    NOTIFY_CHANNEL,
    Claim,
    Delivery,
    outbox_claim_due,
    outbox_deliver,
    outbox_purge_delivered,
    outbox_return_claims,
)
from .reconcile import holds_reconcile
from .services import rental_sweep_no_shows, rental_sweep_pending, rentals_reassign_ahead

log = logging.getLogger(__name__)


@dataclass
class RelaySettings:
    batch: int
    lease: timedelta
    pending_age: timedelta
    sweep_every: float
    concurrency: int = 1  # deliveries of one batch in flight at once (each a call to inventory)
    reconcile_every: float = 300.0
    reconcile_min_age: timedelta = timedelta(minutes=2)

    @classmethod
    def from_settings(cls, **overrides: object) -> RelaySettings:
        values: dict[str, object] = {
            "batch": settings.BOOKING_OUTBOX_BATCH_SIZE,
            "lease": timedelta(seconds=settings.BOOKING_OUTBOX_LEASE_SECONDS),
            "pending_age": timedelta(seconds=settings.BOOKING_PENDING_SWEEP_AGE_SECONDS),
            "sweep_every": settings.BOOKING_SWEEP_INTERVAL_SECONDS,
            "concurrency": settings.BOOKING_OUTBOX_CONCURRENCY,
            "reconcile_every": settings.BOOKING_RECONCILE_INTERVAL_SECONDS,
            "reconcile_min_age": timedelta(seconds=settings.BOOKING_RECONCILE_MIN_AGE_SECONDS),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


class OutboxRelay:
    def __init__(self, config: RelaySettings, *, should_stop: Callable[[], bool] = lambda: False) -> None:
        least = timedelta(seconds=2 * inventory_call_budget())
        if config.lease < least:
            log.warning("relay: lease %s is shorter than two inventory calls; using %s", config.lease, least)
            config.lease = least
        self.config = config
        self.should_stop = should_stop
        self.counts: dict[str, int] = {}
        self._counts_lock = threading.Lock()

    def deliver_due(self) -> int:
        """Deliver every message due now, batch after batch; returns how many were attempted.

        A batch's messages are delivered `concurrency` at a time: each delivery is mostly waiting for inventory,
        and one at a time the relay fell behind a busy front desk (the README's Performance section has the
        figures). Every claimed row is still delivered by exactly one thread, under this relay's lease."""
        attempted = 0
        seen: set[int] = set()
        while not self.should_stop():
            claims = outbox_claim_due(limit=self.config.batch, lease=self.config.lease)
            if not claims or all(claim.message_id in seen for claim in claims):
                outbox_return_claims(claims=claims)  # only rows already tried this pass (zero backoff): later
                break
            outcomes = self._deliver_batch(claims, claimed_at=time.monotonic())
            seen.update(
                claim.message_id for claim, outcome in zip(claims, outcomes, strict=True) if outcome is not None
            )
            delivered = sum(outcome is not None for outcome in outcomes)
            if delivered == 0:
                return attempted  # stopping, or not even one call fits in a fresh lease: the database is crawling
            attempted += delivered  # what was given back is claimed again, with a fresh lease
        return attempted

    def _deliver_batch(self, claims: list[Claim], *, claimed_at: float) -> list[Delivery | None]:
        """Each claim's outcome, None where it was given back unattempted."""
        if self.config.concurrency <= 1 or len(claims) == 1:
            return [self._deliver_one(claim, claimed_at) for claim in claims]
        with ThreadPoolExecutor(min(self.config.concurrency, len(claims)), "relay-delivery") as pool:
            return list(pool.map(lambda claim: self._deliver_in_thread(claim, claimed_at), claims))

    def _deliver_in_thread(self, claim: Claim, claimed_at: float) -> Delivery | None:
        try:
            return self._deliver_one(claim, claimed_at)
        finally:
            connection.close()  # this thread's connection goes back to the pool

    def _deliver_one(self, claim: Claim, claimed_at: float) -> Delivery | None:
        """Deliver one claimed row, or give it back (None) when stopping or when a call no longer fits the lease."""
        lease_left = self.config.lease.total_seconds() - (time.monotonic() - claimed_at)
        if self.should_stop() or lease_left < inventory_call_budget():
            outbox_return_claims(claims=[claim])
            return None
        token = request_id_var.set(f"relay-{uuid.uuid4().hex[:16]}")
        try:
            outcome = outbox_deliver(claim=claim)
        finally:
            request_id_var.reset(token)
        with self._counts_lock:
            self.counts[outcome] = self.counts.get(outcome, 0) + 1
        return outcome

    def housekeeping(self) -> None:
        swept = rental_sweep_pending(older_than=self.config.pending_age)
        if swept:
            log.info("sweep failed %d stale pending rental(s) and queued their releases", swept)
        no_shows = rental_sweep_no_shows(grace=timedelta(minutes=settings.BOOKING_NO_SHOW_GRACE_MINUTES))
        if no_shows:
            log.info("sweep marked %d booking(s) no-show and queued their releases", no_shows)
        try:
            moved = rentals_reassign_ahead(ahead=timedelta(minutes=settings.BOOKING_REASSIGN_AHEAD_MINUTES))
        except InventoryUnavailable as exc:
            log.warning("reassign ahead: inventory unavailable (%s); next sweep later", exc)
        else:
            if moved:
                log.info("moved %d booking(s) off overdue cars ahead of their pick-up", moved)
        purged = idempotency_purge_expired()
        old = outbox_purge_delivered(older_than=timedelta(days=settings.BOOKING_OUTBOX_KEEP_DELIVERED_DAYS))
        if purged or old:
            log.info("purged %d expired idempotency keys, %d old delivered outbox messages", purged, old)

    def reconcile(self) -> None:
        """One reconciler pass; what it queues is delivered by the next `deliver_due`."""
        try:
            report = holds_reconcile(min_age=self.config.reconcile_min_age, should_stop=self.should_stop)
        except InventoryUnavailable as exc:
            log.warning("reconciler: inventory unavailable (%s); next pass later", exc)
            return
        if report.released or report.rentals_without_hold:
            log.warning(
                "reconciler: %d hold(s) seen, %d released, %d active rental(s) without a hold",
                report.holds_seen,
                len(report.released),
                len(report.rentals_without_hold),
            )

    def run_once(self) -> None:
        """Deliver what is due, then sweep and purge once (tests, cron)."""
        self.deliver_due()
        if not self.should_stop():
            self.housekeeping()

    def run_forever(self, *, interval: float) -> None:
        waiter = _Waker()
        last_housekeeping = float("-inf")
        # The first pass waits a whole interval: at start-up holds of rentals in flight look like orphans to nobody,
        # but there is nothing to hurry for either.
        last_reconcile = time.monotonic()
        try:
            while not self.should_stop():
                attempted = 0
                try:
                    close_old_connections()
                    attempted = self.deliver_due()
                    if time.monotonic() - last_housekeeping >= self.config.sweep_every and not self.should_stop():
                        last_housekeeping = time.monotonic()
                        self.housekeeping()
                    if time.monotonic() - last_reconcile >= self.config.reconcile_every and not self.should_stop():
                        last_reconcile = time.monotonic()
                        self.reconcile()
                except DatabaseError as exc:
                    log.warning("relay: database unavailable (%s); retrying shortly", exc.__class__.__name__)
                    connection.close()
                except Exception:
                    log.exception("relay: iteration failed; continuing")
                if attempted == 0:
                    waiter.wait(interval, self.should_stop)
        finally:
            waiter.close()
            connection.close()


class _Waker:
    """Sleeps up to `interval`, waking early on NOTIFY booking_outbox (a rental just ended) or a stop request.

    Uses its own autocommit connection for LISTEN; without one (database down) it simply sleeps."""

    SLICE = 0.25  # how often a stop request is noticed while waiting
    RECONNECT_AFTER = 5.0  # seconds between LISTEN connection attempts while the database is away

    def __init__(self) -> None:
        self._conn = None
        self._next_try = 0.0

    def _listen(self):  # type: ignore[no-untyped-def]
        if self._conn is None and time.monotonic() >= self._next_try:
            import psycopg

            self._next_try = time.monotonic() + self.RECONNECT_AFTER
            params = connection.get_connection_params()
            params.pop("cursor_factory", None)
            params.pop("context", None)
            try:
                self._conn = psycopg.connect(**params, autocommit=True)
                self._conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
            except Exception as exc:
                log.debug("relay: LISTEN unavailable (%s); polling", exc)
                self._conn = None
        return self._conn

    def wait(self, interval: float, should_stop: Callable[[], bool]) -> None:
        deadline = time.monotonic() + interval
        while not should_stop():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            conn = self._listen()
            if conn is None:
                time.sleep(min(self.SLICE, remaining))
                continue
            try:
                if any(True for _ in conn.notifies(timeout=min(self.SLICE, remaining), stop_after=1)):
                    return
            except Exception:
                self.close()

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
