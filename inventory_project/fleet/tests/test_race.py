"""Many clients racing for one car over real HTTP to gunicorn: exactly one wins, PostgreSQL holds one hold."""

import threading
import uuid

import psycopg
import pytest
import requests
from django.conf import settings

from drivenow_contracts.testing import live_service, pg_port

RACERS = 32


@pytest.fixture(scope="module")
def inventory():
    with live_service(settings.BASE_DIR, db_prefix="INVENTORY", db_name="inventory_race") as service:
        yield service


def test_32_threads_reserving_one_car_get_exactly_one_hold(inventory):
    service_token = inventory.manage("create_service_account").strip()
    staff_token = inventory.manage("seed_demo").strip()
    car = requests.post(
        f"{inventory.url}/api/v1/cars/",
        json={"model": "Contested Car", "year": 2024},
        headers={"Authorization": f"Token {staff_token}"},
        timeout=10,
    ).json()

    barrier = threading.Barrier(RACERS)
    answers: list[tuple[int, str]] = []
    lock = threading.Lock()

    def racer() -> None:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Token {service_token}"
            barrier.wait()
            response = session.post(
                f"{inventory.url}/api/v1/reservations/",
                json={"id": str(uuid.uuid4()), "car_id": car["id"]},
                timeout=30,
            )
            with lock:
                answers.append((response.status_code, response.json().get("code", "")))

    threads = [threading.Thread(target=racer) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(answers) == [(201, "")] + [(409, "car_unavailable")] * (RACERS - 1)
    with psycopg.connect(host="127.0.0.1", port=pg_port(), user="drivenow", dbname=inventory.db_name) as conn:
        active = conn.execute(
            "SELECT count(*) FROM fleet_reservation WHERE car_id = %s AND state = 'active'", [car["id"]]
        ).fetchone()
        status = conn.execute("SELECT status FROM fleet_car WHERE id = %s", [car["id"]]).fetchone()
    assert active == (1,) and status == ("rented",)
