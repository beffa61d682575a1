"""Many clients racing for one car over real HTTP: exactly one wins, the database holds one active reservation."""
import threading
import uuid

import pytest
import requests
from django.contrib.auth.models import Permission, User
from rest_framework.authtoken.models import Token

from fleet.models import Car, CarStatus, Reservation, ReservationState
from fleet.tests.factories import CarFactory

RACERS = 32


@pytest.mark.django_db(transaction=True)
def test_32_threads_reserving_one_car_get_exactly_one_hold(live_server):
    car = CarFactory()
    user = User.objects.create_user("booking-service")
    user.user_permissions.add(Permission.objects.get(codename="manage_reservations"))
    token = Token.objects.create(user=user).key

    barrier = threading.Barrier(RACERS)
    statuses: list[int] = []
    lock = threading.Lock()

    def racer() -> None:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Token {token}"
            barrier.wait()
            response = session.post(
                f"{live_server.url}/api/v1/reservations/",
                json={"id": str(uuid.uuid4()), "car_id": str(car.id)},
                timeout=30,
            )
            with lock:
                statuses.append(response.status_code)
                if response.status_code == 409:
                    assert response.json()["code"] == "car_unavailable"

    threads = [threading.Thread(target=racer) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [201] + [409] * (RACERS - 1)
    assert Reservation.objects.filter(car=car, state=ReservationState.ACTIVE).count() == 1
    assert Car.objects.get(id=car.id).status == CarStatus.RENTED
