"""The outbox relay worker: delivers queued releases to inventory, fails stale pending rentals, and reconciles
inventory's holds with booking's rentals.

Stops cleanly on SIGTERM / SIGINT: the row being delivered is finished, the rest of its batch given back.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import timedelta
from types import FrameType

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from rentals.relay import OutboxRelay, RelaySettings

log = logging.getLogger("rentals.relay")


class Command(BaseCommand):
    help = (
        "Deliver the outbox to inventory (releases), with backoff; fail rentals stuck in `pending`; release "
        "holds no rental owns."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Process what is due now, sweep once, and exit.")
        parser.add_argument(
            "--reconcile",
            action="store_true",
            help="Compare inventory's active holds with the rentals once, queue releases for holds no rental owns, "
            "deliver them, and exit.",
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            help=f"Seconds between polls when idle (default BOOKING_OUTBOX_POLL_INTERVAL, "
            f"{settings.BOOKING_OUTBOX_POLL_INTERVAL}); a NOTIFY wakes the relay sooner.",
        )
        parser.add_argument("--batch", type=int, default=None, help="Rows claimed per transaction.")
        parser.add_argument(
            "--pending-age",
            type=float,
            default=None,
            help="Sweep rentals pending for longer than this many seconds (default BOOKING_PENDING_SWEEP_AGE_SECONDS).",
        )
        parser.add_argument(
            "--sweep-interval",
            type=float,
            default=None,
            help="Seconds between sweeps (default BOOKING_SWEEP_INTERVAL_SECONDS).",
        )
        parser.add_argument(
            "--reconcile-min-age",
            type=float,
            default=None,
            help="Reconcile only holds and rentals older than this many seconds "
            "(default BOOKING_RECONCILE_MIN_AGE_SECONDS).",
        )

    def handle(
        self,
        *args: object,
        once: bool,
        reconcile: bool,
        interval: float | None,
        batch: int | None,
        pending_age: float | None,
        sweep_interval: float | None,
        reconcile_min_age: float | None,
        **options: object,
    ) -> None:
        stop = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            log.info("relay: %s received; finishing the current message", signal.Signals(signum).name)
            stop.set()  # only sets a flag: the loop notices between messages and while waiting

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, request_stop)
            signal.signal(signal.SIGINT, request_stop)

        config = RelaySettings.from_settings(
            batch=batch,
            pending_age=timedelta(seconds=pending_age) if pending_age is not None else None,
            sweep_every=sweep_interval,
            reconcile_min_age=timedelta(seconds=reconcile_min_age) if reconcile_min_age is not None else None,
        )
        relay = OutboxRelay(config, should_stop=stop.is_set)
        if reconcile:
            relay.reconcile()
            relay.deliver_due()
            self.stdout.write(" ".join(f"{k}={v}" for k, v in sorted(relay.counts.items())) or "nothing to repair")
            return
        if once:
            relay.run_once()
            self.stdout.write(" ".join(f"{k}={v}" for k, v in sorted(relay.counts.items())) or "nothing due")
            return
        poll = interval if interval is not None else settings.BOOKING_OUTBOX_POLL_INTERVAL
        log.info("relay: started (poll every %.2fs, batch %d)", poll, config.batch)
        relay.run_forever(interval=poll)
        log.info("relay: stopped")
