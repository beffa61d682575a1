"""Bench data: N holds ahead over the next year on the fleet's cars, for load tests and query plans:
`manage.py seed_holds --holds 200000`. Replaces the holds an earlier run seeded.

Each car of a class at a branch (and in service) gets its share of the holds, one in each of as many equal
stretches of the year: 1–7 days, starting on the hour, followed by the class's turnaround, so none overlaps
another (the exclusion constraint has the last word; a hold that would overlap one already there, a block or a
booking, is skipped). They look like bookings not yet picked up — kind `rental`, `active`, `picked_up_at` NULL —
but no rental in booking stands behind them, so their ids are recognisable: every seeded hold's id begins
`be4c4000-0000-0000-`, and the bench's own direct reserves (deploy/loadtest) begin `be4c4000-0000-0001-`. Version
nibble 0: no uuid4, which every rental id is, can fall in `be4c4000-0000-0…`, the range the bench's audit leaves
out of "held without a rental". Inserted in one statement, then analysed.
"""

import math

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

from fleet.models import Car, CarStatus, HoldKind, Reservation, ReservationState, VehicleClass

BENCH_HOLD_ID_PREFIX = "be4c4000-0000-0000-"  # the seeded holds; the whole bench range is be4c4000-0000-0…
_SEEDED_FIRST = BENCH_HOLD_ID_PREFIX + "0000-000000000000"
_SEEDED_LAST = BENCH_HOLD_ID_PREFIX + "ffff-ffffffffffff"
LONGEST_HOLD_DAYS = 7

_RESERVATION = f'"{Reservation._meta.db_table}"'
_CAR = f'"{Car._meta.db_table}"'
_CLASS = f'"{VehicleClass._meta.db_table}"'

# The cars that take holds: a class and a branch (what a reserve by class chooses from), available now.
HOLD_CARS = f"""SELECT count(*), coalesce(max(vc.turnaround_minutes), 0)
FROM {_CAR} AS car JOIN {_CLASS} AS vc ON vc.id = car.vehicle_class_id
WHERE car.location_id IS NOT NULL AND car.status = %(available)s"""

SEEDED_HOLDS_DELETE = f"DELETE FROM {_RESERVATION} WHERE id BETWEEN %(first)s AND %(last)s"

# Hold number r goes to car r mod C, in stretch r div C of the year (each `slot_hours` long, from the next whole
# hour): 1–7 days at a random hour of its stretch, its end plus the class's turnaround still inside it.
SEEDED_HOLDS_INSERT = f"""WITH cars AS (
    SELECT car.id, car.vehicle_class_id, car.location_id, vc.turnaround_minutes,
           row_number() OVER (ORDER BY car.id) - 1 AS n
    FROM {_CAR} AS car JOIN {_CLASS} AS vc ON vc.id = car.vehicle_class_id
    WHERE car.location_id IS NOT NULL AND car.status = %(available)s
), drawn AS (
    SELECT r, r %% %(cars)s AS car_n, r / %(cars)s AS slot, 1 + floor(random() * %(longest_days)s)::int AS days,
           random() AS place
    FROM generate_series(0, %(holds)s - 1) AS r
), placed AS (
    SELECT drawn.r, drawn.days, cars.id AS car_id, cars.vehicle_class_id, cars.location_id, cars.turnaround_minutes,
           date_trunc('hour', statement_timestamp()) + interval '1 hour' + make_interval(hours =>
               drawn.slot * %(slot_hours)s + floor(drawn.place * (%(slot_hours)s - 24 * drawn.days
                                                     - ceil(cars.turnaround_minutes / 60.0)))::int) AS starts_at
    FROM drawn JOIN cars ON cars.n = drawn.car_n
)
INSERT INTO {_RESERVATION} (id, kind, car_id, period, state, ends_at, vehicle_class_id, location_id,
                            return_location_id, picked_up_at, reason, created_at)
SELECT (%(id_prefix)s || lpad(to_hex(r), 16, '0'))::uuid, %(rental)s, car_id,
       tstzrange(starts_at, starts_at + make_interval(days => days, mins => turnaround_minutes), '[)'),
       %(active)s, starts_at + make_interval(days => days), vehicle_class_id, location_id, location_id, NULL, '',
       statement_timestamp()
FROM placed
ON CONFLICT DO NOTHING"""


class Command(BaseCommand):
    help = "Load test data: N holds ahead over the next year, spread over the cars with a class and a branch."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--holds", type=int, default=200_000)
        parser.add_argument("--days", type=int, default=365, help="how far ahead the holds reach")
        parser.add_argument("--seed", type=float, default=0.42, help="PostgreSQL's setseed(), for repeatable holds")

    def handle(self, *args: object, holds: int, days: int, seed: float, **options: object) -> None:
        if holds < 0 or days < 1 or not -1 <= seed <= 1:
            raise CommandError("--holds must be 0 or more, --days 1 or more, --seed between -1 and 1.")
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(SEEDED_HOLDS_DELETE, {"first": _SEEDED_FIRST, "last": _SEEDED_LAST})
            replaced = cursor.rowcount
            cursor.execute(HOLD_CARS, {"available": CarStatus.AVAILABLE})
            cars, longest_turnaround = cursor.fetchone()
            added = 0
            if holds:
                if not cars:
                    raise CommandError("No car has a class and a branch: run seed_fleet first.")
                slot_hours = days * 24 // math.ceil(holds / cars)
                if slot_hours < 24 * LONGEST_HOLD_DAYS + math.ceil(longest_turnaround / 60):
                    most = cars * (days * 24 // (24 * LONGEST_HOLD_DAYS + math.ceil(longest_turnaround / 60)))
                    raise CommandError(f"{cars} cars take at most {most} holds of up to a week in {days} days.")
                cursor.execute("SELECT setseed(%s)", [seed])
                cursor.execute(
                    SEEDED_HOLDS_INSERT,
                    {
                        "available": CarStatus.AVAILABLE,
                        "rental": HoldKind.RENTAL,
                        "active": ReservationState.ACTIVE,
                        "cars": cars,
                        "holds": holds,
                        "slot_hours": slot_hours,
                        "longest_days": LONGEST_HOLD_DAYS,
                        "id_prefix": BENCH_HOLD_ID_PREFIX.replace("-", ""),
                    },
                )
                added = cursor.rowcount
            cursor.execute(f"ANALYZE {_RESERVATION}")
        skipped = holds - added
        self.stdout.write(
            f"{added} holds added on {cars} cars over the next {days} days"
            + (f", {skipped} skipped (they overlapped a hold or block there)" if skipped else "")
            + (f"; {replaced} seeded earlier removed" if replaced else "")
        )
