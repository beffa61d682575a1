"""A fortnight of demo bookings, made the way the front desk makes them (through the services, so inventory holds
every car): bookings by class at each demo branch over the next 14 days, a few cars out on rentals right now (one
due back within the hour, so it turns overdue while you watch), one cancelled booking. Needs inventory running with
its demo fleet (`deploy/local/run.sh` runs this once both are up). Safe to run twice: it does nothing when demo
bookings exist."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, time, timedelta

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from customers.management.commands.seed_demo import DEMO_CUSTOMERS
from drivenow_contracts import ContractError
from drivenow_contracts.server.errors import DomainError
from rentals import services
from rentals.inventory import inventory_client
from rentals.models import Rental

# branch code, time zone, local pick-up hour (every branch is open then)
BRANCHES = [("TLV-AIR", "Asia/Jerusalem", 10), ("TLV-CEN", "Asia/Jerusalem", 11), ("LON-LHR", "Europe/London", 10)]
CLASSES = ["ECONOMY", "COMPACT", "EV", "SUV", "VAN"]
DAYS = 14


class Command(BaseCommand):
    help = "Book a fortnight of demo rentals through inventory (skipped when demo bookings exist)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=DAYS)

    def handle(self, *args: object, days: int, **options: object) -> None:
        customers = [row[0] for row in DEMO_CUSTOMERS]
        if Rental.objects.filter(customer_id__in=customers, pickup_at__isnull=False).exists():
            self.stdout.write("demo bookings exist already")
            return
        made = {"reserved": 0, "active": 0, "cancelled": 0, "skipped": 0}
        now = timezone.now()
        # Out right now: picked up at once at the airport (open round the clock); the first is due within the hour.
        for n, (klass, hours) in enumerate([("COMPACT", 1), ("EV", 50), ("SUV", 74)]):
            rental = self._book(customers[n % 3], klass, "TLV-AIR", now + timedelta(minutes=1), hours, made)
            if rental is not None:
                readings = services.Readings(odometer_km=None, fuel_eighths=8, staff_user="seed_demo")
                try:
                    services.rental_pick_up(rental_id=rental.id, readings=readings)
                    made["active"] += 1
                    made["reserved"] -= 1
                except DomainError as exc:
                    self.stderr.write(f"pick-up of {rental.id}: {exc.detail}")
        # Ahead: each day, each branch, one or two classes, for one to three days.
        for day in range(1, days):
            for b, (branch, zone, hour) in enumerate(BRANCHES):
                local = datetime.combine(
                    (now + timedelta(days=day)).astimezone(zoneinfo.ZoneInfo(zone)).date(),
                    time(hour),
                    zoneinfo.ZoneInfo(zone),
                )
                for k in range(1 + (day + b) % 2):
                    klass = CLASSES[(day * 3 + b * 2 + k) % len(CLASSES)]
                    length = 24 * (1 + (day + k) % 3)
                    self._book(customers[(day + b + k) % 3], klass, branch, local.astimezone(UTC), length, made)
        cancelled = Rental.objects.filter(customer_id__in=customers, status="reserved").order_by("pickup_at").last()
        if cancelled is not None:
            services.rental_cancel(rental_id=cancelled.id)
            made["cancelled"] += 1
            made["reserved"] -= 1
        self.stdout.write(", ".join(f"{count} {what}" for what, count in made.items()))

    def _book(  # type: ignore[no-untyped-def]
        self, customer: str, klass: str, branch: str, start: datetime, hours: int, made: dict[str, int]
    ):
        end = start + timedelta(hours=hours)
        try:
            free = inventory_client().availability(location=branch, pickup_at=start, return_at=end, vehicle_class=klass)
            if free.get(klass, 0) == 0:
                made["skipped"] += 1
                return None
            rental = services.rental_start(
                customer_id=customer,
                window=services.Window(pickup_location=branch, pickup_at=start, return_at=end, vehicle_class=klass),
            )
        except (DomainError, ContractError) as exc:
            self.stderr.write(f"{klass} at {branch} from {start:%Y-%m-%d %H:%M}: {exc}")
            made["skipped"] += 1
            return None
        made["reserved"] += 1
        return rental
