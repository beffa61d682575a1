"""The rental hot path's SQL, each statement whole and named for what it does (pinned by
`tests/test_query_budget.py`)."""

from __future__ import annotations

from customers.models import Customer, CustomerStatus

from .models import Handover, HandoverKind, OutboxKind, OutboxMessage, OutboxStatus, Rental, RentalStatus

_RENTAL = f'"{Rental._meta.db_table}"'
_CUSTOMER = f'"{Customer._meta.db_table}"'
_OUTBOX = f'"{OutboxMessage._meta.db_table}"'
_HANDOVER = f'"{Handover._meta.db_table}"'

# Insert the pending rental if the customer is active, locking the customer's row as the checked path does, so a
# deactivation in flight is waited for and then seen. Nothing returned: the checked path says why.
RENTAL_OPEN_FOR_ACTIVE_CUSTOMER = f"""INSERT INTO {_RENTAL} (id, car_id, customer_id, status, expected_return_at)
SELECT %(id)s, %(car_id)s, customer.id, %(pending)s, %(expected_return_at)s
FROM {_CUSTOMER} AS customer
WHERE customer.id = %(customer_id)s AND customer.status = %(active_customer)s
FOR NO KEY UPDATE
RETURNING *"""

# Complete the active rental, record the return's readings (when there are any) and queue the release of its car
# with them, in one statement (one transaction). The release row is due after `lease_seconds` (on the database's
# clock): the request that ended the rental delivers it at once and the relay takes it only if that request could
# not. With 0 the relay takes it at once, woken at commit (NOTIFY). Nothing returned: the rental was not active.
RENTAL_END = f"""WITH ended AS (
    UPDATE {_RENTAL} SET status = %(completed)s, ended_at = %(now)s, updated_at = statement_timestamp(),
        return_location = coalesce(%(location)s, return_location)
    WHERE id = %(id)s AND status = %(active)s
    RETURNING *
), queued AS (
    INSERT INTO {_OUTBOX} (kind, reservation_id, status, attempts, next_attempt_at, last_error, created_at,
                           payload)
    SELECT %(release)s, id, %(outbox_pending)s, 0, statement_timestamp() + make_interval(secs => %(lease_seconds)s),
           '', statement_timestamp(), %(payload)s::jsonb
    FROM ended
    RETURNING id, created_at, next_attempt_at, payload
), handed_in AS (
    INSERT INTO {_HANDOVER} (rental_id, kind, odometer_km, fuel_eighths, damage, location, staff_user, at)
    SELECT id, %(handover_in)s, %(odometer_km)s, %(fuel_eighths)s, %(damage)s, return_location, %(staff_user)s,
           statement_timestamp()
    FROM ended WHERE %(readings)s
)
SELECT ended.*, queued.id AS outbox_id, queued.created_at AS outbox_created_at,
       queued.next_attempt_at AS outbox_lease_until, queued.payload AS outbox_payload,
       (SELECT pg_notify(%(channel)s, '') WHERE %(lease_seconds)s = 0) AS woke_relay
FROM ended, queued"""

PARAMS = {
    "pending": RentalStatus.PENDING,
    "active": RentalStatus.ACTIVE,
    "completed": RentalStatus.COMPLETED,
    "release": OutboxKind.RELEASE,
    "outbox_pending": OutboxStatus.PENDING,
    "active_customer": CustomerStatus.ACTIVE,
    "handover_in": HandoverKind.IN,
    # a v1 end has no readings: nothing handed in, nothing carried to inventory but the id
    "readings": False,
    "odometer_km": None,
    "fuel_eighths": None,
    "damage": "",
    "location": None,
    "staff_user": "",
    "payload": "{}",
}
