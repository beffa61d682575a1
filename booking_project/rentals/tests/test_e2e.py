"""End to end: inventory and booking under gunicorn, the outbox relay as its own process, all over HTTP.

Booking reaches inventory through a TCP proxy (tests.support.TcpProxy) so a test can make inventory slow
without touching it; stopping inventory is a real stop of its gunicorn.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from django.conf import settings

from drivenow_contracts.testing import LiveService, live_service
from rentals.tests.support import LiveInventory, TcpProxy, drop_database, wait_until

pytestmark = pytest.mark.e2e

READ_TIMEOUT = 1.5  # booking's read timeout towards inventory in these tests
CONNECT_TIMEOUT = 0.5


@dataclass
class Stack:
    inventory: LiveInventory
    booking: LiveService
    proxy: TcpProxy
    token: str  # booking staff token

    def call(self, method: str, path: str, json: object = None, **headers: str) -> requests.Response:
        headers = {"Authorization": f"Token {self.token}", **headers}
        return requests.request(method, self.booking.url + path, json=json, headers=headers, timeout=30)

    def new_customer(self) -> str:
        body = {"name": "E2E Customer", "email": f"{uuid.uuid4().hex}@example.com"}
        answer = self.call("POST", "/api/v1/customers/", body)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    def start(self, car_id: object, customer_id: str) -> requests.Response:
        return self.call("POST", "/api/v1/rentals/", {"car_id": str(car_id), "customer_id": customer_id})

    def metric(self, name: str) -> float:
        text = requests.get(self.booking.url + "/metrics", timeout=10).text
        values = [float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " ")]
        assert values, f"{name} not in /metrics"
        return values[0]


@pytest.fixture(scope="module")
def stack(live_inventory: LiveInventory) -> Iterator[Stack]:
    proxy = TcpProxy(live_inventory.service.port)
    db_name = f"booking_e2e_{os.getpid()}"
    env = {
        "BOOKING_INVENTORY_URL": proxy.url,
        "BOOKING_INVENTORY_TOKEN": live_inventory.service_token,
        "BOOKING_INVENTORY_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT),
        "BOOKING_INVENTORY_READ_TIMEOUT": str(READ_TIMEOUT),
        "BOOKING_OUTBOX_BACKOFF_BASE": "0.2",
        "BOOKING_OUTBOX_BACKOFF_CAP": "1.0",
        "BOOKING_SWEEP_INTERVAL_SECONDS": "1",
        # These tests watch /health/ready follow inventory going away and coming back: no kept answer.
        "DJANGO_READY_REPORTS_CACHE_SECONDS": "0",
    }
    with tempfile.TemporaryDirectory(prefix="booking-e2e-metrics-") as metrics_dir:
        env["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        try:
            with live_service(settings.BASE_DIR, db_prefix="BOOKING", db_name=db_name, env=env) as booking:
                token = booking.manage("seed_demo").strip()
                booking.spawn("run_outbox_relay", "--interval", "0.2")
                yield Stack(live_inventory, booking, proxy, token)
        finally:
            proxy.close()
            drop_database(db_name)


@pytest.fixture
def inventory_restarted_after(stack: Stack) -> Iterator[None]:
    """Whatever a test does to inventory, it is up again and not slowed for the next one."""
    yield
    stack.proxy.set_delay(0)
    if stack.inventory.service.process is None:
        stack.inventory.service.start()


def test_tour_customer_rental_car_rented_end_car_available(stack: Stack) -> None:
    car_id = stack.inventory.make_car()
    customer_id = stack.new_customer()

    started = stack.start(car_id, customer_id)
    assert started.status_code == 201, started.text
    rental = started.json()
    assert rental["status"] == "active" and rental["customer_id"] == customer_id
    assert stack.inventory.car_status(car_id) == "rented"
    assert stack.call("GET", f"/api/v1/rentals/{rental['id']}/").json()["status"] == "active"

    ended = stack.call("POST", f"/api/v1/rentals/{rental['id']}/end/", {})
    assert ended.status_code == 200 and ended.json()["status"] == "completed"
    began = time.monotonic()
    stack.inventory.wait_for_car(car_id, "available", timeout=10)
    freed_after = time.monotonic() - began
    print(f"\n[e2e] car available {freed_after:.3f}s after the end answered (relay woken by NOTIFY)")
    assert stack.inventory.reservation_state(rental["id"]) == "released"
    wait_until(lambda: stack.metric("booking_outbox_pending") == 0, what="outbox drained")
    assert stack.metric("booking_rentals_started_total") >= 1
    assert stack.metric("booking_rentals_ended_total") >= 1


def test_32_concurrent_starts_for_one_car_give_exactly_one_rental(stack: Stack) -> None:
    car_id = stack.inventory.make_car()
    customer_id = stack.new_customer()
    barrier = threading.Barrier(32)
    answers: list[requests.Response] = []

    def start() -> None:
        barrier.wait()
        answers.append(stack.start(car_id, customer_id))

    threads = [threading.Thread(target=start) for _ in range(32)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(f"\n[e2e] 32 concurrent starts answered in {time.monotonic() - began:.2f}s")

    statuses = Counter(a.status_code for a in answers)
    assert statuses == {201: 1, 409: 31}, statuses
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"car_unavailable"}
    winner = next(a.json()["id"] for a in answers if a.status_code == 201)

    # inventory: the car is held once, by the winner's reservation, and by no other
    assert stack.inventory.car_status(car_id) == "rented"
    assert stack.inventory.reservation_state(winner) == "active"
    listed = stack.call("GET", f"/api/v1/rentals/?car_id={car_id}&limit=100").json()
    assert listed["count"] == 32
    by_status = Counter(r["status"] for r in listed["results"])
    assert by_status == {"active": 1, "failed": 31}, by_status
    losers = [r["id"] for r in listed["results"] if r["status"] == "failed"]
    assert {r["failure_code"] for r in listed["results"] if r["status"] == "failed"} == {"car_unavailable"}
    assert all(stack.inventory.reservation_state(rid) is None for rid in losers)


def test_inventory_stopped_start_is_503_fast_end_is_200_and_the_relay_frees_the_car_later(
    stack: Stack, inventory_restarted_after: None
) -> None:
    customer_id = stack.new_customer()
    held_car, other_car = stack.inventory.make_car(), stack.inventory.make_car()
    rental = stack.start(held_car, customer_id).json()

    stack.inventory.service.stop()
    ready = requests.get(stack.booking.url + "/health/ready", timeout=10)
    assert ready.status_code == 200, ready.text  # booking stays ready: the outbox covers inventory
    assert ready.json()["checks"]["inventory"].startswith("unavailable")

    began = time.monotonic()
    refused = stack.start(other_car, customer_id)
    latency = time.monotonic() - began
    print(f"\n[e2e] start with inventory stopped: {refused.status_code} in {latency * 1000:.0f} ms")
    assert refused.status_code == 503 and refused.json()["code"] == "inventory_unavailable"
    assert int(refused.headers["Retry-After"]) > 0
    assert latency < (CONNECT_TIMEOUT + READ_TIMEOUT) * 2 + 0.5  # bounded by the client's timeouts and retry

    ended = stack.call("POST", f"/api/v1/rentals/{rental['id']}/end/", {})
    assert ended.status_code == 200 and ended.json()["status"] == "completed"
    assert stack.metric("booking_outbox_pending") >= 2  # the end's release and the failed start's

    time.sleep(1.0)  # the relay keeps trying (and backing off) while inventory is down
    stack.inventory.service.start()
    began = time.monotonic()
    stack.inventory.wait_for_car(held_car, "available", timeout=15)  # nobody touches anything: the relay does it
    print(f"[e2e] relay freed the car {time.monotonic() - began:.2f}s after inventory came back")
    assert stack.inventory.car_status(other_car) == "available"
    failed_id = stack.call("GET", f"/api/v1/rentals/?car_id={other_car}").json()["results"][0]["id"]
    assert stack.inventory.reservation_state(failed_id) is None  # never held
    assert requests.get(stack.booking.url + "/health/ready", timeout=10).json()["checks"]["inventory"] == "ok"


def test_inventory_slower_than_the_timeout_is_503_and_no_car_stays_held(
    stack: Stack, inventory_restarted_after: None
) -> None:
    customer_id = stack.new_customer()
    car_id = stack.inventory.make_car()
    delay = READ_TIMEOUT * 2 + 1.0  # beyond both attempts: the reserve lands in inventory after booking gave up
    stack.proxy.set_delay(delay)

    began = time.monotonic()
    refused = stack.start(car_id, customer_id)
    latency = time.monotonic() - began
    print(f"\n[e2e] start with inventory slower than the timeout: {refused.status_code} in {latency:.2f}s")
    assert refused.status_code == 503 and refused.json()["code"] == "inventory_unavailable"
    assert latency < delay
    rental_id = stack.call("GET", f"/api/v1/rentals/?car_id={car_id}").json()["results"][0]["id"]

    # The late reserve does land: inventory holds the car for a rental booking already failed...
    wait_until(lambda: stack.inventory.reservation_state(rental_id) is not None, timeout=15, what="the late reserve")
    stack.proxy.set_delay(0)  # ...inventory recovers, and the queued release frees it.
    stack.inventory.wait_for_car(car_id, "available", timeout=20)
    assert stack.inventory.reservation_state(rental_id) == "released"
    assert stack.call("GET", f"/api/v1/rentals/{rental_id}/").json()["status"] == "failed"


def test_booking_killed_between_reserve_and_commit_is_failed_by_the_sweep_and_the_car_freed(
    stack: Stack, inventory_restarted_after: None
) -> None:
    customer_id = stack.new_customer()
    car_id = stack.inventory.make_car()
    stack.proxy.set_delay(READ_TIMEOUT / 2)  # the reserve is on its way when booking dies

    attempt = threading.Thread(target=lambda: _ignore_errors(lambda: stack.start(car_id, customer_id)))
    attempt.start()
    time.sleep(0.3)
    stack.booking.stop(signal.SIGKILL)  # the crash: the pending rental is committed, the answer never recorded
    attempt.join()
    stack.booking.start()
    stack.proxy.set_delay(0)

    stack.inventory.wait_for_car(car_id, "rented", timeout=10)  # the reserve landed
    [pending] = stack.call("GET", f"/api/v1/rentals/?car_id={car_id}").json()["results"]
    assert pending["status"] == "pending"

    # Nobody was ever told the rental started (201 comes only after activation): the sweep fails it, frees the car.
    stack.booking.manage("run_outbox_relay", "--once", "--pending-age", "0")
    settled = stack.call("GET", f"/api/v1/rentals/{pending['id']}/").json()
    assert (settled["status"], settled["failure_code"], settled["started_at"]) == ("failed", "abandoned", None)
    stack.booking.manage("run_outbox_relay", "--once")  # delivers the release the sweep queued
    stack.inventory.wait_for_car(car_id, "available", timeout=10)


def test_idempotent_start_over_http(stack: Stack) -> None:
    car_id = stack.inventory.make_car()
    customer_id = stack.new_customer()
    body = {"car_id": str(car_id), "customer_id": customer_id}
    first = stack.call("POST", "/api/v1/rentals/", body, **{"Idempotency-Key": f"e2e-{uuid.uuid4()}"})
    key = first.request.headers["Idempotency-Key"]
    again = stack.call("POST", "/api/v1/rentals/", body, **{"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    other = stack.call("POST", "/api/v1/rentals/", {**body, "car_id": str(uuid.uuid4())}, **{"Idempotency-Key": key})
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"


def test_docs_schema_health_and_metrics_are_served(stack: Stack) -> None:
    for path in ("/docs", "/redoc", "/schema", "/health/live", "/admin/login/"):
        assert requests.get(stack.booking.url + path, timeout=10).status_code == 200, path
    # The client's latency histogram has series once booking has called inventory (also when this test runs alone).
    unknown_car = {"car_id": str(uuid.uuid4()), "customer_id": stack.new_customer()}
    refused = stack.call("POST", "/api/v1/rentals/", unknown_car)
    assert refused.status_code == 422 and refused.json()["code"] == "car_not_found", refused.text
    metrics = requests.get(stack.booking.url + "/metrics", timeout=10).text
    for name in (
        "booking_inventory_client_seconds_bucket",
        "booking_outbox_oldest_pending_age_seconds",
        "booking_outbox_dead",
        "django_http_requests_total_by_method_total",
    ):
        assert name in metrics, name


def _ignore_errors(call) -> None:  # type: ignore[no-untyped-def]
    with contextlib.suppress(requests.RequestException):
        call()
