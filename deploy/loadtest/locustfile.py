"""DriveNow load scenarios for Locust (headless, run by bench.sh). One user class per scenario.

Environment (set by bench.sh): DN_INVENTORY_URL, DN_BOOKING_URL, DN_STAFF_TOKEN, DN_CAR_IDS_FILE (one car id a
line, the available fleet), DN_CONTENDED_CARS (how many cars the contention scenario fights over),
DN_STATUS_FILE (where the status-code tally is written at the end).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import threading
import uuid
from collections import Counter

from locust import FastHttpUser, between, events, task

INVENTORY = os.environ.get("DN_INVENTORY_URL", "http://127.0.0.1:3131")
BOOKING = os.environ.get("DN_BOOKING_URL", "http://127.0.0.1:1313")
AUTH = {"Authorization": f"Token {os.environ.get('DN_STAFF_TOKEN', '')}", "Content-Type": "application/json"}
CAR_IDS = [line.strip() for line in open(os.environ.get("DN_CAR_IDS_FILE", "/dev/null")) if line.strip()]  # noqa: SIM115
MODELS = ["tesla", "toyota", "golf", "renault", "fiat", "ford", "kia", "skoda", "nissan", "audi"]

STATUSES: Counter[str] = Counter()
COMPLETED_RENTALS = Counter()
TIMES_MS: list[float] = []  # every measured request (not the per-user setup), for exact percentiles
_lock = threading.Lock()
_user_numbers = itertools.count()


@events.request.add_listener
def _tally(request_type, name, response_time, response_length, response=None, exception=None, **kwargs):
    code = getattr(response, "status_code", 0) if response is not None else 0
    with _lock:
        STATUSES[f"{name}|{code or type(exception).__name__}"] += 1
        if name != "setup customer":
            TIMES_MS.append(response_time)


@events.quitting.add_listener
def _write_tally(environment, **kwargs):
    path = os.environ.get("DN_STATUS_FILE")
    if path:
        with open(path, "w") as out:
            json.dump({"statuses": STATUSES, "completed_rentals": COMPLETED_RENTALS["n"], "times_ms": TIMES_MS}, out)


class _Customer(FastHttpUser):
    abstract = True
    host = BOOKING
    wait_time = between(0, 0)
    customer_id: str

    def on_start(self) -> None:
        n = next(_user_numbers)
        self.number = n
        body = {"name": f"Load Tester {n}", "email": f"load-{uuid.uuid4().hex[:12]}@example.com"}
        with self.client.post(
            f"{BOOKING}/api/v1/customers/", json=body, headers=AUTH, name="setup customer", catch_response=True
        ) as response:
            if response.status_code != 201:
                raise RuntimeError(
                    f"could not create the load tester's customer: {response.status_code} {response.text}"
                )
            self.customer_id = response.json()["id"]

    def rent_and_return(self, car_id: str, *, expect_conflicts: bool) -> None:
        body = {"car_id": car_id, "customer_id": self.customer_id}
        with self.client.post(
            f"{BOOKING}/api/v1/rentals/", json=body, headers=AUTH, name="POST /rentals/", catch_response=True
        ) as response:
            if response.status_code == 409 and expect_conflicts:
                response.success()  # losing the race is the expected answer, not an error
                return
            if response.status_code != 201:
                response.failure(f"start {response.status_code}")
                return
            rental_id = response.json()["id"]
        with self.client.post(
            f"{BOOKING}/api/v1/rentals/{rental_id}/end/",
            json={},
            headers=AUTH,
            name="POST /rentals/{id}/end/",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"end {response.status_code}")
                return
        with _lock:
            COMPLETED_RENTALS["n"] += 1


class RentReturnUser(_Customer):
    """Each client rents free cars of its own slice of the fleet and returns them."""

    def on_start(self) -> None:
        super().on_start()
        users = int(os.environ.get("DN_USERS", "16"))
        # Walk its own slice in order, so a car comes round again only after hundreds of other rentals.
        self.cars = itertools.cycle(CAR_IDS[self.number % users :: users] or CAR_IDS)

    @task
    def rent_return(self) -> None:
        self.rent_and_return(next(self.cars), expect_conflicts=False)


class ContentionUser(_Customer):
    """Every client fights over the same few cars; 409 car_unavailable is the expected answer for the losers."""

    @task
    def fight(self) -> None:
        contended = CAR_IDS[: int(os.environ.get("DN_CONTENDED_CARS", "4"))]
        self.rent_and_return(random.choice(contended), expect_conflicts=True)


class BrowseUser(FastHttpUser):
    """Front-desk browsing: filtered lists of available cars and single cars."""

    host = INVENTORY
    wait_time = between(0, 0)

    @task(3)
    def list_available(self) -> None:
        year = random.randint(2012, 2024)
        query = f"status=available&model={random.choice(MODELS)}&year_min={year}&year_max={year + 4}&limit=20"
        self.client.get(f"{INVENTORY}/api/v1/cars/?{query}", name="GET /cars/?filters")

    @task(2)
    def get_car(self) -> None:
        self.client.get(f"{INVENTORY}/api/v1/cars/{random.choice(CAR_IDS)}/", name="GET /cars/{id}/")


class CeilingUser(FastHttpUser):
    """The same server setup answering the most trivial endpoint: what this machine can do at all."""

    host = BOOKING
    wait_time = between(0, 0)

    @task
    def live(self) -> None:
        self.client.get(f"{BOOKING}/health/live", name="GET /health/live")
