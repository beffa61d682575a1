"""Booking's invariants live in the database: every constraint exists and refuses a bad row written with raw SQL,
past the ORM and the services; the migrations go back to zero and forward again on a database with data."""

from __future__ import annotations

import uuid

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _insert(sql: str, params: list[object], *, without: tuple[tuple[str, str], ...] = ()) -> None:
    """Run the INSERT in a savepoint, foreign keys checked at once. `without` drops (table, constraint) pairs
    first — inside the savepoint, so they come back — when a bad value would also break a constraint PostgreSQL
    checks earlier (it checks in name order): each test then proves its own constraint refuses the row alone."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for table, name in without:
            cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
        cursor.execute(sql, params)


def _constraints(table: str) -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.get_constraints(cursor, table))


CUSTOMER_SQL = (
    "INSERT INTO customers_customer (id, name, email, phone, driver_licence, status, created_at, "
    "updated_at, deactivated_at) VALUES (%s, %s, %s, '', '', %s, now(), now(), {deactivated})"
)
RENTAL_SQL = (
    "INSERT INTO rentals_rental (id, car_id, customer_id, status, failure_code, created_at, started_at, "
    "expected_return_at, ended_at, updated_at) VALUES (%s, %s, %s, %s, %s, now(), {started}, NULL, {ended}, "
    "now())"
)


@pytest.mark.parametrize(
    ("constraint", "sql", "values"),
    [
        ("customer_status_valid", CUSTOMER_SQL.format(deactivated="NULL"), ["A", "a@x.org", "banned"]),
        ("customer_contact_matches_status", CUSTOMER_SQL.format(deactivated="NULL"), ["A", "", "active"]),
        ("customer_contact_matches_status", CUSTOMER_SQL.format(deactivated="NULL"), ["A", "a@x.org", "deactivated"]),
        ("customer_email_unique_active", CUSTOMER_SQL.format(deactivated="NULL"), ["B", "TAKEN@example.com", "active"]),
    ],
    ids=["unknown status", "active without email", "deactivated without date", "email taken (other case)"],
)
def test_customer_constraints_refuse_bad_rows_in_sql(constraint, sql, values):
    CustomerFactory(email="taken@example.com")
    assert constraint in _constraints("customers_customer")
    without = (
        (("customers_customer", "customer_contact_matches_status"),) if constraint == "customer_status_valid" else ()
    )
    with pytest.raises(IntegrityError) as refused:
        _insert(sql, [uuid.uuid4(), *values], without=without)
    assert constraint in str(refused.value)


def test_a_deactivated_customer_frees_the_email_in_sql():
    CustomerFactory(email="taken@example.com")
    _insert(CUSTOMER_SQL.format(deactivated="now()"), [uuid.uuid4(), "(gone)", "taken@example.com", "deactivated"])


@pytest.mark.parametrize(
    ("constraint", "status", "failure", "started", "ended"),
    [
        ("rental_status_valid", "stolen", None, "NULL", "NULL"),
        ("rental_failure_code_valid", "failed", "bad_luck", "NULL", "NULL"),
        ("rental_failure_code_iff_failed", "failed", None, "NULL", "NULL"),
        ("rental_failure_code_iff_failed", "active", "car_unavailable", "now()", "NULL"),
        ("rental_started_iff_got_car", "active", None, "NULL", "NULL"),
        ("rental_started_iff_got_car", "pending", None, "now()", "NULL"),
        ("rental_ended_iff_completed", "completed", None, "now()", "NULL"),
        ("rental_ended_iff_completed", "active", None, "now()", "now()"),
    ],
)
def test_rental_constraints_refuse_bad_rows_in_sql(constraint, status, failure, started, ended):
    customer = CustomerFactory()
    assert constraint in _constraints("rentals_rental")
    without = (("rentals_rental", "rental_started_iff_got_car"),) if constraint == "rental_status_valid" else ()
    with pytest.raises(IntegrityError) as refused:
        _insert(
            RENTAL_SQL.format(started=started, ended=ended),
            [uuid.uuid4(), uuid.uuid4(), customer.id, status, failure],
            without=without,
        )
    assert constraint in str(refused.value)


def test_a_rental_needs_an_existing_customer_in_sql():
    with pytest.raises(IntegrityError, match="foreign key"):
        _insert(
            RENTAL_SQL.format(started="NULL", ended="NULL"), [uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), "pending", None]
        )


@pytest.mark.parametrize(
    ("constraint", "sql"),
    [
        (
            "outbox_status_valid",
            "INSERT INTO rentals_outboxmessage (kind, reservation_id, status, attempts, "
            "next_attempt_at, last_error, created_at) VALUES ('release', %s, 'lost', 0, now(), '', now())",
        ),
        (
            "outbox_kind_valid",
            "INSERT INTO rentals_outboxmessage (kind, reservation_id, status, attempts, "
            "next_attempt_at, last_error, created_at) VALUES ('reserve', %s, 'pending', 0, now(), '', now())",
        ),
        (
            "outbox_delivered_at_iff_delivered",
            "INSERT INTO rentals_outboxmessage (kind, reservation_id, status, "
            "attempts, next_attempt_at, last_error, created_at) "
            "VALUES ('release', %s, 'delivered', 1, now(), '', now())",
        ),
        (
            "idempotency_response_iff_completed",
            "INSERT INTO rentals_idempotencykey (key, fingerprint, state, "
            "created_at) VALUES (%s, 'f', 'completed', now())",
        ),
        (
            "idempotency_state_valid",
            "INSERT INTO rentals_idempotencykey (key, fingerprint, state, created_at) VALUES (%s, 'f', 'lost', now())",
        ),
    ],
)
def test_outbox_and_idempotency_constraints_refuse_bad_rows_in_sql(constraint, sql):
    without = (
        (("rentals_idempotencykey", "idempotency_response_iff_completed"),)
        if constraint == "idempotency_state_valid"
        else ()
    )
    with pytest.raises(IntegrityError) as refused:
        _insert(sql, [str(uuid.uuid4())], without=without)
    assert constraint in str(refused.value)


@pytest.mark.django_db(transaction=True)
def test_booking_migrations_roll_back_to_zero_and_forward_again():
    from customers import services as customer_services
    from rentals.models import Rental

    customer = CustomerFactory()
    Rental.objects.create(car_id=uuid.uuid4(), customer=customer)
    call_command("migrate", "rentals", "zero", verbosity=0)
    call_command("migrate", "customers", "zero", verbosity=0)
    tables = connection.introspection.table_names()
    assert "rentals_rental" not in tables and "customers_customer" not in tables
    call_command("migrate", verbosity=0)
    assert {"customer_email_unique_active", "customer_contact_matches_status"} <= _constraints("customers_customer")
    assert {"rental_started_iff_got_car", "rental_failure_code_iff_failed"} <= _constraints("rentals_rental")
    created = customer_services.customer_create(name="Back", email="back@example.com")
    assert Rental.objects.create(car_id=uuid.uuid4(), customer=created).status == "pending"


def test_booking_models_and_migrations_agree():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
