"""A request stuck behind another transaction's row lock answers 503 problem+json with Retry-After, instead of
hanging until gunicorn kills its worker: the server's lock_timeout and statement_timeout (config/gunicorn.conf.py),
over real HTTP to gunicorn, with the lock held by a real second connection."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
import requests
from django.conf import settings

from drivenow_contracts.testing import LiveService, live_service, pg_port


@contextmanager
def _car_locked(service: LiveService, car_id: str) -> Iterator[None]:
    """Another transaction keeps the car's row locked (as a slow writer would) until the block ends."""
    with psycopg.connect(host="127.0.0.1", port=pg_port(), user="drivenow", dbname=service.db_name) as conn:
        conn.execute("SELECT 1 FROM fleet_car WHERE id = %s FOR UPDATE", [car_id])
        yield
        conn.rollback()


def _a_car(service: LiveService) -> tuple[str, dict[str, str]]:
    staff = {"Authorization": f"Token {service.manage('seed_demo').strip()}"}
    car = requests.post(
        f"{service.url}/api/v1/cars/", json={"model": "Locked Car", "year": 2024}, headers=staff, timeout=10
    )
    assert car.status_code == 201, car.text
    return car.json()["id"], staff


@pytest.fixture(scope="module")
def inventory() -> Iterator[LiveService]:
    """The server as it ships: gunicorn.conf.py's bounds (a lock waited for 5 s, a statement run for 20 s)."""
    with live_service(settings.BASE_DIR, db_prefix="INVENTORY", db_name="inventory_timeouts") as service:
        yield service


def test_a_request_waiting_for_a_locked_row_answers_503_to_retry_and_changes_nothing(inventory):
    car_id, staff = _a_car(inventory)
    url = f"{inventory.url}/api/v1/cars/{car_id}/"
    with _car_locked(inventory, car_id):
        started = time.monotonic()
        refused = requests.patch(url, json={"model": "Renamed"}, headers=staff, timeout=25)
        waited = time.monotonic() - started
    assert refused.status_code == 503, refused.text
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.headers["Retry-After"] == "1"
    assert refused.json()["code"] == "concurrent_update"
    assert 4.5 < waited < 15, waited  # the 5 s lock_timeout, well inside gunicorn's 30 s worker timeout
    assert requests.get(url, headers=staff, timeout=10).json()["model"] == "Locked Car"
    # The lock gone, the same request succeeds: the 503 was worth retrying.
    assert requests.patch(url, json={"model": "Renamed"}, headers=staff, timeout=10).json()["model"] == "Renamed"


def test_a_statement_past_statement_timeout_answers_503_database_unavailable():
    # No lock_timeout, a 0.5 s statement_timeout: the statement waiting for the lock is the one that runs too long.
    bounds = {"INVENTORY_DB_LOCK_TIMEOUT_MS": "0", "INVENTORY_DB_STATEMENT_TIMEOUT_MS": "500"}
    with live_service(
        settings.BASE_DIR, db_prefix="INVENTORY", db_name="inventory_statement_timeout", env=bounds
    ) as service:
        car_id, staff = _a_car(service)
        url = f"{service.url}/api/v1/cars/{car_id}/"
        with _car_locked(service, car_id):
            started = time.monotonic()
            refused = requests.patch(url, json={"model": "Renamed"}, headers=staff, timeout=25)
            waited = time.monotonic() - started
        assert refused.status_code == 503, refused.text
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert refused.headers["Retry-After"] == "5"
        assert refused.json()["code"] == "database_unavailable"
        assert waited < 4, waited
        assert requests.get(url, headers=staff, timeout=10).json()["model"] == "Locked Car"
