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
    assert {"reservation_no_overlap", "reservation_period_matches_state"} <= _constraints("fleet_reservation")
    car = CarFactory()
    reservation, created = services.reservation_create(reservation_id=uuid.uuid4(), car_id=car.id)
    assert created and reservation.car_id == car.id


@pytest.mark.django_db
def test_models_and_migrations_agree():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
