"""Inventory's invariants live in the database: each constraint exists and refuses a bad row written with raw
SQL, past the ORM and the services (migrations both ways: test_migrations.py)."""

from __future__ import annotations

import uuid

import pytest
from django.db import IntegrityError, connection, transaction

from fleet.tests.factories import CarFactory

pytestmark = pytest.mark.django_db

CAR_SQL = (
    "INSERT INTO fleet_car (id, model, year, plate, status, created_at, updated_at) "
    "VALUES (%s, %s, %s, %s, %s, now(), now())"
)
RESERVATION_SQL = (
    "INSERT INTO fleet_reservation (id, car_id, period, state, created_at) "
    "VALUES (%s, %s, tstzrange(%s::timestamptz, %s::timestamptz, '[)'), %s, now())"
)
# v2's columns as well: kind, ends_at, picked_up_at.
HOLD_SQL = (
    "INSERT INTO fleet_reservation (id, car_id, period, state, kind, ends_at, picked_up_at, created_at) "
    "VALUES (%s, %s, tstzrange(%s::timestamptz, %s::timestamptz, '[)'), %s, %s, %s::timestamptz, "
    "%s::timestamptz, now())"
)


def _insert(sql: str, params: list[object], *, without: str | None = None) -> None:
    """The INSERT in a savepoint, foreign keys checked at once. `without` drops a reservation constraint first
    (inside the savepoint, so it comes back) when the bad value would also break one PostgreSQL checks earlier."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        if without:
            cursor.execute(f'ALTER TABLE fleet_reservation DROP CONSTRAINT "{without}"')
        cursor.execute(sql, params)


def _constraints(table: str) -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.get_constraints(cursor, table))


@pytest.mark.parametrize(
    ("constraint", "values"),
    [
        ("car_year_range", ["Old", 1899, None, "available"]),
        ("car_year_range", ["Future", 2101, None, "available"]),
        ("car_status_valid", ["Odd", 2020, None, "stolen"]),
        ("car_status_valid", ["Case", 2020, None, "AVAILABLE"]),
        ("car_plate_not_blank", ["Blank", 2020, "", "available"]),
        ("fleet_car_plate_key", ["Twin", 2020, "TAKEN1", "available"]),
    ],
    ids=["year 1899", "year 2101", "status stolen", "status in capitals", "blank plate", "plate taken"],
)
def test_car_constraints_refuse_bad_rows_in_sql(constraint, values):
    CarFactory(plate="TAKEN1")
    assert constraint in _constraints("fleet_car")
    with pytest.raises(IntegrityError) as refused:
        _insert(CAR_SQL, [uuid.uuid4(), *values])
    assert constraint in str(refused.value)


def test_year_below_zero_does_not_even_fit_the_column():
    with pytest.raises(IntegrityError):  # PositiveSmallIntegerField: CHECK (year >= 0) as well
        _insert(CAR_SQL, [uuid.uuid4(), "Neg", -1, None, "available"])


@pytest.mark.parametrize(
    ("constraint", "period", "state"),
    [
        ("reservation_no_overlap", ("2030-01-01", None), "active"),
        ("reservation_no_overlap", ("2020-01-01", None), "active"),
        ("reservation_no_overlap", ("2020-01-01", "2029-06-02"), "active"),
        ("reservation_state_valid", ("2040-01-01", None), "paused"),
        ("reservation_released_has_end", ("2040-01-01", None), "released"),
    ],
    ids=["second open hold", "earlier open hold", "bounded hold into it", "unknown state", "released without an end"],
)
def test_reservation_constraints_refuse_bad_rows_in_sql(constraint, period, state):
    car = CarFactory()
    _insert(RESERVATION_SQL, [uuid.uuid4(), car.id, "2029-06-01", None, "active"])  # an open hold from 2029
    assert constraint in _constraints("fleet_reservation")
    other_car = car if constraint == "reservation_no_overlap" else CarFactory()
    without = "reservation_released_has_end" if constraint == "reservation_state_valid" else None
    with pytest.raises(IntegrityError) as refused:
        _insert(RESERVATION_SQL, [uuid.uuid4(), other_car.id, *period, state], without=without)
    assert constraint in str(refused.value)


@pytest.mark.parametrize(
    ("constraint", "period", "kind", "ends_at", "picked_up_at"),
    [
        ("reservation_kind_valid", ("2040-01-01", "2040-01-02"), "loan", "2040-01-02", None),
        ("reservation_block_shape", ("2040-01-01", None), "block", None, None),
        ("reservation_block_shape", ("2040-01-01", "2040-01-02"), "block", "2040-01-02", "2040-01-01"),
        ("reservation_ends_after_start", ("2040-01-01", "2040-01-03"), "rental", "2039-12-31", None),
    ],
    ids=["unknown kind", "open-ended block", "picked-up block", "ends before it starts"],
)
def test_v2_hold_constraints_refuse_bad_rows_in_sql(constraint, period, kind, ends_at, picked_up_at):
    car = CarFactory()
    _insert(HOLD_SQL, [uuid.uuid4(), car.id, "2041-01-01", "2041-01-02", "active", "block", "2041-01-02", None])
    assert constraint in _constraints("fleet_reservation")
    with pytest.raises(IntegrityError) as refused:
        _insert(HOLD_SQL, [uuid.uuid4(), car.id, *period, "active", kind, ends_at, picked_up_at])
    assert constraint in str(refused.value)


def test_a_block_and_a_rental_may_not_overlap_either_way_in_sql():
    car = CarFactory()
    _insert(HOLD_SQL, [uuid.uuid4(), car.id, "2041-01-01", "2041-01-05", "active", "block", "2041-01-05", None])
    with pytest.raises(IntegrityError, match="reservation_no_overlap"):
        _insert(HOLD_SQL, [uuid.uuid4(), car.id, "2041-01-04", "2041-01-06", "active", "rental", "2041-01-06", None])
    # back to back is no overlap: [) ranges
    _insert(HOLD_SQL, [uuid.uuid4(), car.id, "2041-01-05", "2041-01-06", "active", "rental", "2041-01-06", None])


def test_released_holds_may_overlap_and_other_cars_are_independent_in_sql():
    car, other = CarFactory(), CarFactory()
    _insert(RESERVATION_SQL, [uuid.uuid4(), car.id, "2029-06-01", None, "active"])
    _insert(RESERVATION_SQL, [uuid.uuid4(), car.id, "2029-01-01", "2030-01-01", "released"])
    _insert(RESERVATION_SQL, [uuid.uuid4(), other.id, "2029-06-01", None, "active"])


def test_a_reservation_needs_an_existing_car_in_sql():
    with pytest.raises(IntegrityError, match="foreign key"):
        _insert(RESERVATION_SQL, [uuid.uuid4(), uuid.uuid4(), "2029-06-01", None, "active"])
