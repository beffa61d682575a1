"""After a load run: compare both databases. Prints JSON: double bookings and cars held without a rental.

usage: audit.py PG_PORT INVENTORY_DB BOOKING_DB   (user drivenow on 127.0.0.1; waits for the outbox to drain)

A double booking is two holds of one car, neither released, whose periods overlap (in inventory), or two
rentals of one car that hold it (pending, reserved or active) over overlapping windows (in booking: a booking's
window is [pickup_at, return_at), from an early pick-up if there was one; a walk-in's from its start until it
ends). Holds with an id in the bench's range — seed_holds' `be4c4000-0000-0000-…`, the reserve_class scenario's
`be4c4000-0000-0001-…` — and staff's blocks have no rental behind them by design: they are left out of "held
without a rental" (and counted).
"""

from __future__ import annotations

import json
import sys
import time

import psycopg

# The ids no rental stands behind (see seed_holds): version nibble 0, so no rental's uuid4 falls in it.
BENCH_HOLDS = "(id BETWEEN 'be4c4000-0000-0000-0000-000000000000' AND 'be4c4000-0000-0fff-ffff-ffffffffffff')"


def main(port: str, inventory_db: str, booking_db: str) -> dict[str, int | float]:
    connect = dict(host="127.0.0.1", port=port, user="drivenow", autocommit=True)
    with (
        psycopg.connect(dbname=booking_db, **connect) as booking,
        psycopg.connect(dbname=inventory_db, **connect) as inv,
    ):
        started = time.monotonic()
        while True:  # the relay frees the cars of ended rentals; give it time to catch up
            (pending,) = booking.execute(
                "SELECT count(*) FROM rentals_outboxmessage WHERE status = 'pending'"
            ).fetchone()
            if pending == 0 or time.monotonic() - started > 60:
                break
            time.sleep(0.5)
        drain_seconds = round(time.monotonic() - started, 1)

        (inventory_double,) = inv.execute(
            "SELECT count(*) FROM fleet_reservation a JOIN fleet_reservation b"
            " ON b.car_id = a.car_id AND b.id > a.id AND b.period && a.period"
            " WHERE a.state <> 'released' AND b.state <> 'released'"
        ).fetchone()
        (booking_double,) = booking.execute(
            "WITH holding AS (SELECT id, car_id, CASE WHEN pickup_at IS NULL"
            " THEN tstzrange(coalesce(started_at, created_at), NULL, '[)')"  # a walk-in: until it ends
            " ELSE tstzrange(least(pickup_at, started_at), return_at, '[)') END AS span"  # picked up early: from then
            " FROM rentals_rental WHERE car_id IS NOT NULL AND status IN ('pending', 'reserved', 'active'))"
            " SELECT count(*) FROM holding a JOIN holding b ON b.car_id = a.car_id AND b.id > a.id"
            " AND b.span && a.span"
        ).fetchone()
        holds = {
            row[0]
            for row in inv.execute(
                f"SELECT id FROM fleet_reservation WHERE state = 'active' AND kind = 'rental' AND NOT {BENCH_HOLDS}"
            )
        }
        (bench_holds,) = inv.execute(
            f"SELECT count(*) FROM fleet_reservation WHERE state = 'active' AND {BENCH_HOLDS}"
        ).fetchone()
        live = {
            row[0]
            for row in booking.execute(
                "SELECT id FROM rentals_rental WHERE status IN ('active', 'pending', 'reserved')"
            )
        }
        (rented_without_hold,) = inv.execute(
            "SELECT count(*) FROM fleet_car c WHERE c.status = 'rented' AND NOT EXISTS"
            " (SELECT 1 FROM fleet_reservation r WHERE r.car_id = c.id AND r.state = 'active'"
            " AND r.picked_up_at IS NOT NULL)"
        ).fetchone()
        (rentals,) = booking.execute("SELECT count(*) FROM rentals_rental").fetchone()
        # How long a returned car waited for the relay to free it in inventory (outbox row made → delivered).
        lag_p50, lag_p99, lag_max = booking.execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lag),"
            " percentile_cont(0.99) WITHIN GROUP (ORDER BY lag),"
            " max(lag) FROM (SELECT extract(epoch FROM delivered_at - created_at) AS lag"
            " FROM rentals_outboxmessage WHERE status = 'delivered') AS d"
        ).fetchone()
    return {
        "double_bookings": inventory_double + booking_double,
        "held_without_active_rental": len(holds - live),
        "active_rental_without_hold": len(live - holds),
        "rented_cars_without_hold": rented_without_hold,
        "bench_holds_active": bench_holds,
        "outbox_pending_left": pending,
        "outbox_drain_seconds": drain_seconds,
        "rentals_in_booking": rentals,
        "release_lag_seconds": {
            "p50": round(float(lag_p50 or 0), 3),
            "p99": round(float(lag_p99 or 0), 3),
            "max": round(float(lag_max or 0), 3),
        },
    }


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))
