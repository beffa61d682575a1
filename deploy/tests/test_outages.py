"""Outages under load: PostgreSQL stopped under running services, and inventory stopped, frozen or answering 500
behind the gateway. While rentals keep being started and ended by client threads, every answer must be a
problem+json (503 `database_unavailable` / `inventory_unavailable`, never a 500 or an HTML page), the services must
come back by themselves when the database does (same processes, no restart), and afterwards the two databases
must agree: no rental pending, every active rental holds its car, no car held for nothing, the outbox drained.

Each service's PostgreSQL here is a throwaway cluster of its own (deploy/local/lib.sh dn_pg_start), so one can be
stopped while the other runs."""

from __future__ import annotations

import json
import os
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from outage import Cluster, RentalLoad, audit, service_on, settled, wait_for
from stack import HAS_BOOKING, NO_BOOKING_REASON, STAFF_TOKEN, Stack, local_stack

pytestmark = [pytest.mark.live, pytest.mark.skipif(not HAS_BOOKING, reason=NO_BOOKING_REASON)]

PROBLEM = "application/problem+json"
# The relay settles quickly here: it fails rentals left pending for 2 s and releases their holds.
RELAY_ENV = {
    "BOOKING_OUTBOX_POLL_INTERVAL": "0.2",
    "BOOKING_OUTBOX_BACKOFF_BASE": "0.2",
    "BOOKING_OUTBOX_BACKOFF_CAP": "1",
    "BOOKING_PENDING_SWEEP_AGE_SECONDS": "2",
    "BOOKING_SWEEP_INTERVAL_SECONDS": "0.5",
    # A row the relay had claimed when the database went away stays invisible for its lease (default 60 s).
    "BOOKING_OUTBOX_LEASE_SECONDS": "10",
}


_capture: list[pytest.CaptureFixture[str]] = []


@pytest.fixture(autouse=True)
def _figures_past_capture(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    _capture.append(capsys)
    yield
    _capture.pop()


def figures(name: str, numbers: dict) -> None:
    """Printed past pytest's capture (like the fuzz and catalogue counts), for the README's figures."""
    with _capture[-1].disabled():
        print(f"\n[figures] outage {name}: {json.dumps(numbers)}")


def assert_problem(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"] == PROBLEM, response.headers["Content-Type"]
    assert response.json()["code"] == code, response.json()


# -- PostgreSQL --------------------------------------------------------------------------------------------------
class PgWorld:
    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.inventory_pg, self.booking_pg = Cluster(), Cluster()

    def clusters(self) -> tuple[tuple[Cluster, str], tuple[Cluster, str]]:
        return (self.inventory_pg, "outage_inventory"), (self.booking_pg, "outage_booking")


@pytest.fixture(scope="module")
def pg_world() -> Iterator[PgWorld]:
    log_dir = Path(os.environ.get("DN_TEST_LOG_DIR") or tempfile.mkdtemp(prefix="drivenow-outage-logs-"))
    world = PgWorld(log_dir)
    try:
        world.inventory_pg.start()
        world.booking_pg.start()
        # A request waits at most 2 s (default 5) for a database connection before answering 503: a quicker test.
        fast = {"INVENTORY_DB_POOL_TIMEOUT": "2", "BOOKING_DB_POOL_TIMEOUT": "2"}
        with service_on(world.inventory_pg, "inventory", "outage_inventory", fast, log_dir) as inventory:
            service_token = inventory.manage("create_service_account").strip()
            inventory.manage("seed_demo", "--token", STAFF_TOKEN)
            env = {
                **RELAY_ENV,
                **fast,
                "BOOKING_INVENTORY_URL": inventory.url,
                "BOOKING_INVENTORY_TOKEN": service_token,
            }
            with service_on(world.booking_pg, "booking", "outage_booking", env, log_dir) as booking:
                booking.manage("seed_demo", "--token", STAFF_TOKEN)
                booking.spawn("run_outbox_relay")
                world.inventory, world.booking = inventory, booking  # type: ignore[attr-defined]
                staff = {"Authorization": f"Token {STAFF_TOKEN}"}
                world.cars = [
                    requests.post(
                        f"{inventory.url}/api/v1/cars/",
                        headers=staff,
                        timeout=10,  # type: ignore[attr-defined]
                        json={"model": f"Outage {i}", "year": 2024},
                    ).json()["id"]
                    for i in range(12)
                ]
                world.customer = requests.get(
                    f"{booking.url}/api/v1/customers/",
                    headers=staff,  # type: ignore[attr-defined]
                    timeout=10,
                ).json()["results"][0]["id"]
                yield world
    finally:
        world.inventory_pg.remove()
        world.booking_pg.remove()


def _ready(url: str) -> int:
    return requests.get(f"{url}/health/ready", timeout=10).status_code


def _outage_under_load(world, name: str, stop: list[Cluster], checks) -> dict:  # type: ignore[no-untyped-def]
    """Rentals under load; `stop` clusters go down for ~4 s and come back; `checks(t)` runs during the outage."""
    pids = (world.inventory.process.pid, world.booking.process.pid)
    with RentalLoad(world.booking.url, STAFF_TOKEN, world.cars, world.customer) as load:
        time.sleep(2)
        stopped_at = time.monotonic()
        for cluster in stop:
            cluster.stop()
        numbers = {"stop_seconds": round(time.monotonic() - stopped_at, 2)}
        numbers.update(checks())
        time.sleep(max(0.0, 4 - (time.monotonic() - stopped_at)))
        for cluster in stop:
            cluster.start()
        numbers["outage_seconds"] = round(time.monotonic() - stopped_at, 1)
        numbers["recovered_after_seconds"] = round(
            wait_for(
                lambda: (
                    _ready(world.inventory.url) == 200
                    and _ready(world.booking.url) == 200
                    and requests.get(
                        f"{world.booking.url}/api/v1/rentals/?limit=1",
                        timeout=10,
                        headers={"Authorization": f"Token {STAFF_TOKEN}"},
                    ).status_code
                    == 200
                ),
                timeout=30,
                what="both services ready again",
            ),
            2,
        )
        time.sleep(3)  # and rentals keep flowing after
    assert (world.inventory.process.pid, world.booking.process.pid) == pids, "a service was restarted"
    assert world.inventory.process.poll() is None and world.booking.process.poll() is None
    numbers["settled_after_seconds"] = round(
        wait_for(lambda: settled(*world.clusters()), timeout=60, what="rentals and outbox settled"), 1
    )
    problems, counts = audit(*world.clusters())
    numbers.update(answers=dict(load.answers), **{f"db_{k}": v for k, v in counts.items()})
    figures(name, numbers)
    assert load.bad == [], load.bad[:5]
    assert problems == [], problems[:10]
    assert any(key.startswith("start 201") for key in load.answers), load.answers
    return numbers


def test_postgres_stopped_under_both_services(pg_world):
    staff = {"Authorization": f"Token {STAFF_TOKEN}"}

    def during() -> dict:
        detected = wait_for(
            lambda: _ready(pg_world.inventory.url) == 503 and _ready(pg_world.booking.url) == 503,
            timeout=15,
            what="readiness 503",
        )
        ready = requests.get(f"{pg_world.booking.url}/health/ready", timeout=10).json()
        assert ready["status"] == "unavailable" and ready["checks"]["database"].startswith("unavailable")
        began = time.monotonic()
        answers = [
            requests.get(f"{pg_world.inventory.url}/api/v1/cars/", timeout=30),
            requests.post(
                f"{pg_world.inventory.url}/api/v1/cars/", json={"model": "X", "year": 2024}, headers=staff, timeout=30
            ),
            requests.get(f"{pg_world.booking.url}/api/v1/rentals/", headers=staff, timeout=30),
            requests.post(
                f"{pg_world.booking.url}/api/v1/customers/",
                json={"name": "X", "email": "x@example.com"},
                headers=staff,
                timeout=30,
            ),
            requests.post(
                f"{pg_world.booking.url}/api/v1/rentals/",
                headers=staff,
                timeout=30,
                json={"car_id": pg_world.cars[0], "customer_id": pg_world.customer},
            ),
        ]
        slowest = (time.monotonic() - began) / len(answers)
        for answer in answers:
            assert_problem(answer, 503, "database_unavailable")
            assert int(answer.headers["Retry-After"]) > 0
        return {"readiness_503_after_seconds": round(detected, 2), "api_503_mean_seconds": round(slowest, 2)}

    numbers = _outage_under_load(pg_world, "postgres-both", [pg_world.inventory_pg, pg_world.booking_pg], during)
    assert any("start 503 database_unavailable" in key for key in numbers["answers"]), numbers["answers"]


def test_bookings_database_lost_between_reserve_and_settle(pg_world):
    """Inventory keeps running: starts whose reserve landed but whose settling hit the dead database stay pending
    until the sweep fails them and frees their cars (nobody was told they started); none is left half-made."""
    numbers = _outage_under_load(pg_world, "postgres-booking", [pg_world.booking_pg], lambda: {})
    assert any("database_unavailable" in key for key in numbers["answers"]), numbers["answers"]


def test_inventorys_database_stopped_rentals_refused_ends_still_answered(pg_world):
    staff = {"Authorization": f"Token {STAFF_TOKEN}"}

    def during() -> dict:
        wait_for(lambda: _ready(pg_world.inventory.url) == 503, timeout=15, what="inventory not ready")
        assert _ready(pg_world.booking.url) == 200  # booking's own database is fine: it stays ready
        started = requests.post(
            f"{pg_world.booking.url}/api/v1/rentals/",
            headers=staff,
            timeout=30,
            json={"car_id": pg_world.cars[1], "customer_id": pg_world.customer},
        )
        assert_problem(started, 503, "inventory_unavailable")
        return {}

    numbers = _outage_under_load(pg_world, "postgres-inventory", [pg_world.inventory_pg], during)
    assert any(key.startswith("end 200") for key in numbers["answers"])


# -- inventory behind the gateway ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def stack(nginx: str) -> Iterator[Stack]:
    with local_stack("outage", nginx, booking_env=RELAY_ENV) as running:
        yield running


def _main_clusters() -> tuple[tuple[Cluster, str], tuple[Cluster, str]]:
    main = Cluster(directory=Path("/nonexistent"), port=int(os.environ["DN_TEST_PG_PORT"]))
    return (main, "deploy_outage_inventory"), (main, "deploy_outage_booking")


class _Answer500(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        body = (
            b'{"type":"urn:drivenow:problem:internal_error","title":"Internal Server Error","status":500,'
            b'"detail":"boom","code":"internal_error"}'
        )
        self.send_response(500)
        self.send_header("Content-Type", PROBLEM)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


def _through_gateway(stack: Stack, name: str, break_inventory, mend_inventory) -> None:  # type: ignore[no-untyped-def]
    base, staff = stack.gateway.url, stack.staff()
    car = staff.post(f"{base}/api/v1/cars/", json={"model": f"Gateway {name}", "year": 2024}).json()["id"]
    customer = staff.post(
        f"{base}/api/v1/customers/", json={"name": "Outage", "email": f"{uuid.uuid4().hex[:10]}@example.com"}
    ).json()["id"]
    held = staff.post(f"{base}/api/v1/rentals/", json={"car_id": car, "customer_id": customer})
    assert held.status_code == 201, held.text
    other = staff.post(f"{base}/api/v1/cars/", json={"model": f"Gateway {name} 2", "year": 2024}).json()["id"]

    break_inventory()
    began = time.monotonic()
    refused = staff.post(
        f"{base}/api/v1/rentals/",
        json={"car_id": other, "customer_id": customer},
        headers={"Idempotency-Key": str(uuid.uuid4())},
        timeout=60,
    )
    start_seconds = time.monotonic() - began
    assert_problem(refused, 503, "inventory_unavailable")
    assert int(refused.headers["Retry-After"]) > 0
    ended = staff.post(f"{base}/api/v1/rentals/{held.json()['id']}/end/", json={}, timeout=30)
    assert ended.status_code == 200 and ended.json()["status"] == "completed"  # never waits for inventory
    # Keyed: left pending for a retry with the same key; nobody retries, so the sweep fails it (perhaps already:
    # it waits BOOKING_PENDING_SWEEP_AGE_SECONDS, less than a frozen inventory's timeouts) and frees the car.
    [refused_rental] = staff.get(f"{base}/api/v1/rentals/?car_id={other}", timeout=10).json()["results"]
    assert refused_rental["status"] in ("pending", "failed") and refused_rental["started_at"] is None
    mend_inventory()
    freed = wait_for(
        lambda: (
            requests.get(f"{base}/api/v1/cars/{car}/", timeout=10).json()["status"] == "available"
            and requests.get(f"{base}/api/v1/cars/{other}/", timeout=10).json()["status"] == "available"
        ),
        timeout=60,
        what="both cars free",
    )
    again = staff.post(f"{base}/api/v1/rentals/", json={"car_id": other, "customer_id": customer}, timeout=30)
    assert again.status_code == 201, again.text
    staff.post(f"{base}/api/v1/rentals/{again.json()['id']}/end/", json={}, timeout=30)
    wait_for(lambda: settled(*_main_clusters()), timeout=60, what="settled")
    problems, counts = audit(*_main_clusters())
    figures(
        f"gateway-inventory-{name}",
        {"start_503_seconds": round(start_seconds, 2), "cars_freed_after_seconds": round(freed, 2), **counts},
    )
    assert problems == [], problems


def test_inventory_stopped_behind_the_gateway(stack):
    def stop() -> None:
        for instance in stack.inventory:
            instance.stop()
        gone = requests.get(f"{stack.gateway.url}/api/v1/cars/", timeout=10)
        assert gone.status_code == 502 and gone.headers["Content-Type"] == PROBLEM  # the gateway's own problem

    def start() -> None:
        for instance in stack.inventory:
            instance.start()

    _through_gateway(stack, "stopped", stop, start)


def test_inventory_frozen_behind_the_gateway(stack):
    """SIGSTOP: inventory accepts connections and never answers (a hung host); booking's timeouts answer for it."""

    def freeze() -> None:
        for instance in stack.inventory:
            os.killpg(instance.process.pid, signal.SIGSTOP)

    def thaw() -> None:
        for instance in stack.inventory:
            os.killpg(instance.process.pid, signal.SIGCONT)

    try:
        _through_gateway(stack, "frozen", freeze, thaw)
    finally:
        thaw()


def test_inventory_answering_500_behind_the_gateway(stack):
    servers: list[ThreadingHTTPServer] = []

    def break_it() -> None:
        for instance in stack.inventory:
            port = instance.port
            instance.stop()
            server = ThreadingHTTPServer(("127.0.0.1", port), _Answer500)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            servers.append(server)
        crash = requests.get(f"{stack.gateway.url}/api/v1/cars/", timeout=10)
        assert crash.status_code == 500 and crash.headers["Content-Type"] == PROBLEM  # passed through untouched

    def mend() -> None:
        for server in servers:
            server.shutdown()
            server.server_close()
        for instance in stack.inventory:
            instance.start()

    _through_gateway(stack, "500", break_it, mend)
