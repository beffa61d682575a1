"""The reservation lifecycle's SQL, each statement whole and named for what it does (pinned by
`tests/test_query_budget.py`). Times come from the database's clock, never the application's: instances on hosts
whose clocks disagree still write one consistent timeline (a hold can never end before it started)."""

from __future__ import annotations

from .models import Car, CarStatus, HoldKind, Location, Reservation, ReservationState, VehicleClass

_CAR = f'"{Car._meta.db_table}"'
_RESERVATION = f'"{Reservation._meta.db_table}"'
_CLASS = f'"{VehicleClass._meta.db_table}"'
_LOCATION = f'"{Location._meta.db_table}"'
_COLUMNS = (
    "id, kind, car_id, period, state, ends_at, vehicle_class_id, location_id, return_location_id, picked_up_at, "
    "reason, created_at"
)
# What an answer names by code (ReservationOutput reads these; selectors.reservation_list annotates the same).
_CODES = f"""(SELECT code FROM {_CLASS} WHERE id = vehicle_class_id) AS vehicle_class_code,
       (SELECT code FROM {_LOCATION} WHERE id = location_id) AS location_code,
       (SELECT code FROM {_LOCATION} WHERE id = return_location_id) AS return_location_code,
       (SELECT model FROM {_CAR} WHERE id = car_id) AS car_model,
       (SELECT plate FROM {_CAR} WHERE id = car_id) AS car_plate"""

# v1's walk-in. Take the car if it is available — the UPDATE locks the row, checks and marks it in one go — and
# insert the open-ended hold, picked up at once, in one statement (one transaction). Nothing returned: the car was
# not there to take. A primary key violation: this id exists already (a replay, or a spent id); an exclusion
# violation: an overlapping hold (a booking or a block ahead: an open-ended hold overlaps every one of them).
RESERVATION_TAKE_CAR = f"""WITH taken AS (
    UPDATE {_CAR} SET status = %(rented)s, updated_at = statement_timestamp()
    WHERE id = %(car_id)s AND status = %(available)s
    RETURNING id, vehicle_class_id, location_id
), held AS (
    INSERT INTO {_RESERVATION} ({_COLUMNS})
    SELECT %(id)s, %(rental)s, taken.id, tstzrange(statement_timestamp(), NULL, '[)'), %(active)s, NULL,
           taken.vehicle_class_id, taken.location_id, taken.location_id, statement_timestamp(), '',
           statement_timestamp()
    FROM taken
    RETURNING {_COLUMNS}
)
SELECT {_COLUMNS}, {_CODES} FROM held
"""

# The end of a hold released now: now (never before its start), and the class's turnaround after a picked-up car.
_RELEASED_END = f"""(greatest(lower(period), statement_timestamp()) + CASE WHEN picked_up_at IS NULL THEN interval '0'
            ELSE make_interval(mins => coalesce(
                (SELECT turnaround_minutes FROM {_CLASS} WHERE id = hold.vehicle_class_id), 0)) END)"""


# End the active rental hold now and, when the car was picked up for it, free the car — with the odometer and
# the return branch when the caller read them (a one-way return moves the car; the trigger refuses an odometer
# that goes down). A hold never picked up (a cancel, a no-show) leaves the car alone: it may be out on another.
# When there is no such hold and the id is unknown, store the id's tombstone. The hold's end is never before its
# start, whichever clock started it; a picked-up car is away for its class's turnaround after the return. A
# reserve of this id still in flight makes the tombstone's INSERT wait for it: once it commits, nothing is
# returned and the caller runs this again, which then ends that hold. Locks the hold's row, then the car's — the
# other order from taking a car, which cannot deadlock with it: taking locks only an available car, and this
# locks only a rented one (the hold's car was picked up). The car is freed by the hold's pick-up, not by the
# status this statement's snapshot saw: a pick-up that committed while this waited for the hold's lock has made
# the car rented after that snapshot was taken, and the UPDATE then follows the car's newest row.
RESERVATION_RELEASE = f"""WITH released AS (
    UPDATE {_RESERVATION} AS hold
    SET state = %(released)s,
        period = tstzrange(lower(period), {_RELEASED_END},
                           CASE WHEN {_RELEASED_END} > lower(period) THEN '[)' ELSE '[]' END)
    WHERE id = %(id)s AND state = %(active)s AND kind = %(rental)s
      AND (NOT %(unless_picked_up)s OR picked_up_at IS NULL)
    RETURNING {_COLUMNS}
), freed AS (
    UPDATE {_CAR} AS car
    SET status = %(available)s, updated_at = statement_timestamp(),
        odometer_km = coalesce(%(odometer_km)s, car.odometer_km),
        location_id = coalesce(%(location_id)s, car.location_id)
    FROM released
    WHERE car.id = released.car_id AND released.picked_up_at IS NOT NULL
), tombstone AS (
    INSERT INTO {_RESERVATION} ({_COLUMNS})
    SELECT %(id)s, %(rental)s, NULL, tstzrange(statement_timestamp(), statement_timestamp(), '[]'),
           %(released)s, NULL, NULL, NULL, NULL, NULL, '', statement_timestamp()
    WHERE NOT EXISTS (SELECT 1 FROM released)
    ON CONFLICT (id) DO NOTHING
    RETURNING {_COLUMNS}
)
SELECT {_COLUMNS}, {_CODES} FROM released
UNION ALL
SELECT {_COLUMNS}, NULL, NULL, NULL, NULL, NULL FROM tombstone
"""

PARAMS = {
    "rental": HoldKind.RENTAL,
    "active": ReservationState.ACTIVE,
    "released": ReservationState.RELEASED,
    "available": CarStatus.AVAILABLE,
    "rented": CarStatus.RENTED,
    # a release's readings, when it has them
    "odometer_km": None,
    "location_id": None,
    # a cancel's or a no-show's release: never for a car that has left
    "unless_picked_up": False,
}
