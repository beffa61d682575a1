"""Migrations apply backwards and forwards cleanly on a database with data in it."""

import uuid

import pytest
from django.core.management import call_command
from django.db import connection

from fleet import services
from fleet.tests.factories import CarFactory


def _constraints(table: str) -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.get_constraints(cursor, table))


@pytest.mark.django_db(transaction=True)
def test_fleet_migrations_roll_back_to_zero_and_forward_again():
    CarFactory()
    assert {"reservation_no_overlap", "car_year_range", "car_status_valid"} <= (
        _constraints("fleet_reservation") | _constraints("fleet_car")
    )
    call_command("migrate", "fleet", "zero", verbosity=0)
    assert "fleet_car" not in connection.introspection.table_names()
    call_command("migrate", "fleet", verbosity=0)
    expected = {"reservation_no_overlap", "reservation_released_has_end", "reservation_block_shape"}
    assert expected <= _constraints("fleet_reservation")
    car = CarFactory()
    reservation, created = services.reservation_create(reservation_id=uuid.uuid4(), car_id=car.id)
    assert created and reservation.car_id == car.id


@pytest.mark.django_db
def test_models_and_migrations_agree():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db(transaction=True)
def test_a_v1_walk_in_held_before_the_v2_migration_is_picked_up_after_it_and_its_release_frees_the_car():
    """0006 marks every v1 hold picked up when it started: otherwise its release would leave the car `rented`."""
    call_command("migrate", "fleet", "0005", verbosity=0)
    car_id, rid = uuid.uuid4(), uuid.uuid4()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO fleet_car (id, model, year, status, created_at, updated_at) "
            "VALUES (%s, 'Old hold', 2020, 'rented', now(), now())",
            [car_id],
        )
        cursor.execute(
            "INSERT INTO fleet_reservation (id, car_id, period, state, created_at) "
            "VALUES (%s, %s, tstzrange(now() - interval '1 hour', NULL, '[)'), 'active', now())",
            [rid, car_id],
        )
    call_command("migrate", "fleet", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT picked_up_at = lower(period), kind FROM fleet_reservation WHERE id = %s", [rid])
        assert cursor.fetchone() == (True, "rental")
    released = services.reservation_release(reservation_id=rid)
    assert released.state == "released"
    with connection.cursor() as cursor:
        cursor.execute("SELECT status FROM fleet_car WHERE id = %s", [car_id])
        assert cursor.fetchone() == ("available",)
