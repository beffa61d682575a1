"""DriveNow load scenarios for Locust (headless, run by bench.sh). One user class per scenario.

Environment (set by bench.sh): DN_INVENTORY_URL, DN_BOOKING_URL, DN_STAFF_TOKEN, DN_SERVICE_TOKEN (the booking
service's, for inventory's reservations), DN_CAR_IDS_FILE (one car id a line, the available fleet),
DN_WALK_IN_CAR_IDS_FILE (the available cars without a class: walk-ins only, no holds ahead), DN_CONTENDED_CARS
(how many of them the contention scenario fights over), DN_STATUS_FILE (where the status-code tally is written
at the end). A 409 is tallied with its problem code ("409 class_unavailable"): which ones a scenario expects is
report.py's to say.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import secrets
import threading
import urllib.request
import uuid
import zoneinfo
from collections import Counter
from datetime import UTC, datetime, timedelta

from locust import FastHttpUser, between, events, task

INVENTORY = os.environ.get("DN_INVENTORY_URL", "http://127.0.0.1:3131")
BOOKING = os.environ.get("DN_BOOKING_URL", "http://127.0.0.1:1313")
AUTH = {"Authorization": f"Token {os.environ.get('DN_STAFF_TOKEN', '')}", "Content-Type": "application/json"}
SERVICE_AUTH = {
    "Authorization": f"Token {os.environ.get('DN_SERVICE_TOKEN', '')}",
    "Content-Type": "application/json",
}


def _ids(variable: str) -> list[str]:
    with open(os.environ.get(variable, "/dev/null")) as ids:
        return [line.strip() for line in ids if line.strip()]


CAR_IDS = _ids("DN_CAR_IDS_FILE")
WALK_IN_CAR_IDS = _ids("DN_WALK_IN_CAR_IDS_FILE") or CAR_IDS
# The id range of holds no rental stands behind (seed_holds seeds be4c4000-0000-0000-…): the audit leaves them out.
BENCH_RESERVATION_PREFIX = "be4c400000000001"
MODELS = ["tesla", "toyota", "golf", "renault", "fiat", "ford", "kia", "skoda", "nissan", "audi"]

STATUSES: Counter[str] = Counter()
COMPLETED_RENTALS = Counter()
TIMES_MS: list[float] = []  # every measured request (not the per-user setup), for exact percentiles
_lock = threading.Lock()
_user_numbers = itertools.count()


@events.request.add_listener
def _tally(request_type, name, response_time, response_length, response=None, exception=None, **kwargs):
    code = getattr(response, "status_code", 0) if response is not None else 0
    outcome = str(code or type(exception).__name__)
    if code == 409:  # which conflict it was: some are the expected answer, others are not
        with contextlib.suppress(ValueError, AttributeError):
            outcome = f"409 {response.json().get('code', '')}".strip()
    with _lock:
        STATUSES[f"{name}|{outcome}"] += 1
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
    """Each client rents free cars of its own slice of the walk-in fleet and returns them."""

    def on_start(self) -> None:
        super().on_start()
        users = int(os.environ.get("DN_USERS", "16"))
        # Walk its own slice in order, so a car comes round again only after hundreds of other rentals.
        self.cars = itertools.cycle(WALK_IN_CAR_IDS[self.number % users :: users] or WALK_IN_CAR_IDS)

    @task
    def rent_return(self) -> None:
        self.rent_and_return(next(self.cars), expect_conflicts=False)


class ContentionUser(_Customer):
    """Every client fights over the same few walk-in cars; 409 car_unavailable is the expected answer for the
    losers."""

    @task
    def fight(self) -> None:
        contended = WALK_IN_CAR_IDS[: int(os.environ.get("DN_CONTENDED_CARS", "4"))]
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


# The fleet's branches (code, time zone, opening hours) and classes, read once from inventory's public lists: the
# windows the v2 scenarios ask for are open at both ends, as a customer's would be.
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_fleet_shape: dict[str, list] = {}


def fleet_shape() -> dict[str, list]:
    with _lock:
        if not _fleet_shape:
            for name, path in (("branches", "locations"), ("classes", "vehicle-classes")):
                with urllib.request.urlopen(f"{INVENTORY}/api/v1/{path}/?limit=200", timeout=10) as answer:
                    _fleet_shape[name] = json.load(answer)["results"]
        return _fleet_shape


def is_open(branch: dict, instant: datetime) -> bool:
    """Location.is_open_at, on the branch's answer: open in one of the day's intervals (one that closes at or
    before it opens runs past midnight); no opening hours: always open."""
    hours = branch["opening_hours"]
    if not hours:
        return True
    local = instant.astimezone(zoneinfo.ZoneInfo(branch["time_zone"]))
    now, day = local.strftime("%H:%M"), local.weekday()
    if any(opens <= now < closes or closes <= opens <= now for opens, closes in hours.get(WEEKDAYS[day], [])):
        return True
    return any(closes <= opens and now < closes for opens, closes in hours.get(WEEKDAYS[day - 1], []))


def window_ahead(branch: dict) -> tuple[datetime, datetime]:
    """A 1–7 day window starting between 09:00 and 12:00 at the branch some day over the next year, open at both
    ends."""
    zone = zoneinfo.ZoneInfo(branch["time_zone"])
    while True:
        day = datetime.now(zone).replace(hour=9, minute=0, second=0, microsecond=0)
        starts_at = day + timedelta(days=random.randint(1, 358), minutes=15 * random.randrange(12))
        ends_at = starts_at + timedelta(days=random.randint(1, 7))
        if is_open(branch, starts_at) and is_open(branch, ends_at):
            return starts_at.astimezone(UTC), ends_at.astimezone(UTC)


def stamp(instant: datetime) -> str:
    return instant.isoformat(timespec="seconds")


class AvailabilityUser(FastHttpUser):
    """A customer's first question: how many cars of each class a branch has free for a window (public)."""

    host = INVENTORY
    wait_time = between(0, 0)

    @task
    def availability(self) -> None:
        branch = random.choice(fleet_shape()["branches"])
        starts_at, ends_at = window_ahead(branch)
        query = f"location={branch['code']}&pickup_at={stamp(starts_at)}&return_at={stamp(ends_at)}"
        self.client.get(
            f"{INVENTORY}/api/v1/availability/?{query.replace('+', '%2B')}", name="GET /availability/?window"
        )


class ReserveClassUser(FastHttpUser):
    """Inventory's reserve by class, as the booking service calls it: a class at a branch for a window ahead.
    201 (a car held) and 409 class_unavailable (none free) are both answers; the ids are the bench's range."""

    host = INVENTORY
    wait_time = between(0, 0)

    @task
    def reserve(self) -> None:
        shape = fleet_shape()
        branch = random.choice(shape["branches"])
        starts_at, ends_at = window_ahead(branch)
        body = {
            "id": str(uuid.UUID(BENCH_RESERVATION_PREFIX + secrets.token_hex(8))),
            "starts_at": stamp(starts_at),
            "ends_at": stamp(ends_at),
            "vehicle_class": random.choice(shape["classes"])["code"],
            "location": branch["code"],
        }
        self.client.post(
            f"{INVENTORY}/api/v1/reservations/", json=body, headers=SERVICE_AUTH, name="POST /reservations/ (class)"
        )


# Every car's odometer as this process last read it. The bench's cars with a class start at 0 km (seed_fleet)
# and only this scenario reads them; a reading must never go down (inventory refuses it).
ODOMETERS: dict[str, int] = {}


class BookingUser(_Customer):
    """The front desk's whole booking: a class booked at a branch open now for a window starting in a few
    minutes (no quote first), the car picked up at once (early pick-up) with its readings, then returned with
    its readings. 409 class_unavailable (nothing free) is an answer, not an error."""

    @task
    def book_pick_up_return(self) -> None:
        shape = fleet_shape()
        pickup_at = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
        return_at = pickup_at + timedelta(days=random.randint(1, 3))
        open_now = [b for b in shape["branches"] if is_open(b, pickup_at) and is_open(b, return_at)]
        branch = random.choice(open_now)["code"]
        body = {
            "customer_id": self.customer_id,
            "vehicle_class": random.choice(shape["classes"])["code"],
            "pickup_location": branch,
            "pickup_at": stamp(pickup_at),
            "return_at": stamp(return_at),
        }
        with self.client.post(
            f"{BOOKING}/api/v1/rentals/", json=body, headers=AUTH, name="POST /rentals/ (book)", catch_response=True
        ) as response:
            if response.status_code == 409 and response.json().get("code") == "class_unavailable":
                response.success()
                return
            if response.status_code != 201:
                response.failure(f"book {response.status_code}")
                return
            rental_id, car_id = response.json()["id"], response.json()["car_id"]
        with _lock:
            odometer = ODOMETERS.get(car_id, 0)
        readings = {"odometer_km": odometer, "fuel_eighths": 8}
        with self.client.post(
            f"{BOOKING}/api/v1/rentals/{rental_id}/pick-up/",
            json=readings,
            headers=AUTH,
            name="POST /rentals/{id}/pick-up/",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"pick-up {response.status_code}")
                return
            car_id = response.json()["car_id"]  # the same car, unless the booked one was still out
        odometer += random.randint(20, 900)
        with _lock:
            ODOMETERS[car_id] = max(odometer, ODOMETERS.get(car_id, 0))
        readings = {"odometer_km": odometer, "fuel_eighths": random.randint(1, 8), "return_location": branch}
        with self.client.post(
            f"{BOOKING}/api/v1/rentals/{rental_id}/end/",
            json=readings,
            headers=AUTH,
            name="POST /rentals/{id}/end/ (readings)",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"end {response.status_code}")
                return
        with _lock:
            COMPLETED_RENTALS["n"] += 1
