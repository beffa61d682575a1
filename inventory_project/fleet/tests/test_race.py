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


FREE_CARS = 5


def test_32_threads_booking_one_class_with_5_free_cars_get_exactly_5_holds(inventory):
    """Overlapping windows (each shifted by a few minutes, all sharing Friday noon) on one class at one branch:
    reserve by class picks a car with SKIP LOCKED and moves on when a hold committed meanwhile is in the way."""
    service_token = inventory.manage("create_service_account").strip()
    staff_token = inventory.manage("seed_demo").strip()
    staff = {"Authorization": f"Token {staff_token}"}
    suffix = uuid.uuid4().hex[:6].upper()
    branch, klass = f"RACE-{suffix}", f"RACE-{suffix}"
    for path, body in (
        ("locations", {"code": branch, "name": "Race branch", "time_zone": "Europe/London"}),
        ("vehicle-classes", {"code": klass, "name": "Race class", "seats": 5, "transmission": "manual"}),
    ):
        assert requests.post(f"{inventory.url}/api/v1/{path}/", json=body, headers=staff, timeout=10).status_code == 201
    cars = []
    for n in range(FREE_CARS):
        body = {"model": f"Race car {n}", "year": 2024, "vehicle_class": klass, "location": branch}
        answer = requests.post(f"{inventory.url}/api/v1/cars/", json=body, headers=staff, timeout=10)
        assert answer.status_code == 201
        cars.append(answer.json()["id"])

    barrier = threading.Barrier(RACERS)
    answers: list[tuple[int, str, str | None]] = []
    lock = threading.Lock()

    def racer(n: int) -> None:
        body = {
            "id": str(uuid.uuid4()),
            "vehicle_class": klass,
            "location": branch,
            "starts_at": f"2031-03-07T{8 + n % 4:02d}:{n % 60:02d}:00Z",
            "ends_at": f"2031-03-08T{10 + n % 3:02d}:00:00Z",
        }
        with requests.Session() as session:
            session.headers["Authorization"] = f"Token {service_token}"
            barrier.wait()
            response = session.post(f"{inventory.url}/api/v1/reservations/", json=body, timeout=60)
            with lock:
                answers.append((response.status_code, response.json().get("code", ""), response.json().get("car_id")))

    threads = [threading.Thread(target=racer, args=(n,)) for n in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    outcomes = sorted((status, code) for status, code, _ in answers)
    assert outcomes == [(201, "")] * FREE_CARS + [(409, "class_unavailable")] * (RACERS - FREE_CARS)
    assert sorted(car for status, _, car in answers if status == 201) == sorted(cars)  # one hold on each car
    with psycopg.connect(host="127.0.0.1", port=pg_port(), user="drivenow", dbname=inventory.db_name) as conn:
        overlapping = conn.execute(
            "SELECT count(*) FROM fleet_reservation a JOIN fleet_reservation b "
            "ON a.car_id = b.car_id AND a.id < b.id AND a.period && b.period "
            "WHERE a.state <> 'released' AND b.state <> 'released'"
        ).fetchone()
        statuses = conn.execute("SELECT DISTINCT status FROM fleet_car WHERE id = ANY(%s::uuid[])", [cars]).fetchall()
    assert overlapping == (0,) and statuses == [("available",)]  # future holds leave the state now alone
