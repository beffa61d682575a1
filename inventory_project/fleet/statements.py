"""The reservation lifecycle's SQL, each statement whole and named for what it does (pinned by
`tests/test_query_budget.py`). Times come from the database's clock, never the application's: instances on hosts
whose clocks disagree still write one consistent timeline (a hold can never end before it started)."""

from __future__ import annotations

from .models import Car, CarStatus, Reservation, ReservationState

_CAR = f'"{Car._meta.db_table}"'
_RESERVATION = f'"{Reservation._meta.db_table}"'
_COLUMNS = "id, car_id, period, state, created_at"

# Take the car if it is available — the UPDATE locks the row, checks and marks it in one go — and insert the
# open-ended hold, in one statement (one transaction). Nothing returned: the car was not there to take. A primary
# key violation: this id exists already (a replay, or a spent id); an exclusion violation: an overlapping hold.
RESERVATION_TAKE_CAR = f"""WITH taken AS (
    UPDATE {_CAR} SET status = %(rented)s, updated_at = statement_timestamp()
    WHERE id = %(car_id)s AND status = %(available)s
    RETURNING id
)
INSERT INTO {_RESERVATION} ({_COLUMNS})
SELECT %(id)s, taken.id, tstzrange(statement_timestamp(), NULL, '[)'), %(active)s, statement_timestamp()
FROM taken
RETURNING {_COLUMNS}
"""

# End the active hold now and free its car; when there is no such hold and the id is unknown, store the id's
# tombstone. The hold's end is never before its start, whichever clock started it. A reserve of this id still
# in flight makes the tombstone's INSERT wait for it: once it commits, nothing is returned and the caller runs
# this again, which then ends that hold. Locks the hold's row, then the car's — the other order from taking a
# car, which cannot deadlock with it: taking locks only an available car, and an available car has no active hold
# for a release to lock.
RESERVATION_RELEASE = f"""WITH released AS (
    UPDATE {_RESERVATION}
    SET state = %(released)s,
        period = tstzrange(lower(period), greatest(lower(period), statement_timestamp()),
                           CASE WHEN statement_timestamp() > lower(period) THEN '[)' ELSE '[]' END)
    WHERE id = %(id)s AND state = %(active)s
    RETURNING {_COLUMNS}
), freed AS (
    UPDATE {_CAR} AS car SET status = %(available)s, updated_at = statement_timestamp()
    FROM released WHERE car.id = released.car_id AND car.status = %(rented)s
), tombstone AS (
    INSERT INTO {_RESERVATION} ({_COLUMNS})
    SELECT %(id)s, NULL, tstzrange(statement_timestamp(), statement_timestamp(), '[]'), %(released)s,
           statement_timestamp()
    WHERE NOT EXISTS (SELECT 1 FROM released)
    ON CONFLICT (id) DO NOTHING
    RETURNING {_COLUMNS}
)
SELECT {_COLUMNS} FROM released
UNION ALL
SELECT {_COLUMNS} FROM tombstone
"""

PARAMS = {
    "active": ReservationState.ACTIVE,
    "released": ReservationState.RELEASED,
    "available": CarStatus.AVAILABLE,
    "rented": CarStatus.RENTED,
}
