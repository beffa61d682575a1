"""Helpers of the outage suite: throwaway PostgreSQL clusters that can be stopped under running services, a rental
load that keeps going through an outage, and the two-database audit that says no rental was left half-made."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import requests

from drivenow_contracts.testing import LiveService, free_port, live_service

REPO_ROOT = Path(__file__).resolve().parents[2]
LIB = REPO_ROOT / "deploy" / "local" / "lib.sh"


def _lib(*command: str, timeout: float = 120) -> None:
    """Run a deploy/local/lib.sh function (it runs the cluster as the postgres user when we are root)."""
    script = f"source {shlex.quote(str(LIB))}; " + " ".join(shlex.quote(part) for part in command)
    result = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "DN_PG_FSYNC": "off"},
    )
    if result.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {result.stdout}\n{result.stderr}")


@dataclass
class Cluster:
    """A private PostgreSQL cluster on a free port (lib.sh dn_pg_start / dn_pg_stop)."""

    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="drivenow-outage-pg-")))
    port: int = field(default_factory=free_port)

    def start(self) -> None:
        _lib("dn_pg_start", str(self.directory), str(self.port))

    def stop(self) -> None:
        """`pg_ctl stop -m fast`: open sessions are cut, as when the database host goes away."""
        _lib("dn_pg_stop", str(self.directory))

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def query(self, database: str, sql: str) -> list[tuple]:
        with psycopg.connect(host="127.0.0.1", port=self.port, user="drivenow", dbname=database) as conn:
            return conn.execute(sql).fetchall()


@contextmanager
def service_on(cluster: Cluster, name: str, db_name: str, env: dict[str, str], log_dir: Path) -> Iterator[LiveService]:
    """live_service on `cluster` instead of the test command's one."""
    saved = os.environ.get("DN_TEST_PG_PORT")
    os.environ["DN_TEST_PG_PORT"] = str(cluster.port)
    try:
        manager = live_service(
            REPO_ROOT / f"{name}_project", db_prefix=name.upper(), db_name=db_name, env=env, log_dir=log_dir
        )
        service = manager.__enter__()
    finally:
        if saved is None:
            os.environ.pop("DN_TEST_PG_PORT", None)
        else:
            os.environ["DN_TEST_PG_PORT"] = saved
    try:
        yield service
    finally:
        manager.__exit__(None, None, None)


def wait_for(predicate, timeout: float, what: str, interval: float = 0.2) -> float:  # type: ignore[no-untyped-def]
    """Seconds it took for predicate() to hold; AssertionError after `timeout`."""
    began = time.monotonic()
    while True:
        try:
            if predicate():
                return time.monotonic() - began
        except requests.RequestException:
            pass
        if time.monotonic() - began > timeout:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@dataclass
class RentalLoad:
    """Threads that start a rental (with an Idempotency-Key) and end it, over and over, and keep every answer."""

    booking_url: str
    token: str
    cars: list[str]
    customer: str
    threads: int = 4
    stop: threading.Event = field(default_factory=threading.Event)
    answers: Counter = field(default_factory=Counter)
    bad: list[str] = field(default_factory=list)
    _workers: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _note(self, what: str, response: requests.Response | None, error: str | None = None) -> None:
        with self._lock:
            if response is None:
                self.answers[f"{what} {error}"] += 1
                return
            self.answers[f"{what} {response.status_code} {self._code(response)}"] += 1
            if response.status_code >= 400 and response.headers.get("Content-Type") != "application/problem+json":
                self.bad.append(
                    f"{what}: {response.status_code} {response.headers.get('Content-Type')} {response.text[:200]}"
                )
            if response.status_code == 500:
                self.bad.append(f"{what}: 500 {response.text[:300]}")

    @staticmethod
    def _code(response: requests.Response) -> str:
        try:
            return str(response.json().get("code", "")) if response.status_code >= 400 else ""
        except ValueError:
            return "not-json"

    def _run(self, index: int) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Token {self.token}"
        cars = self.cars[index :: self.threads]
        i = 0
        while not self.stop.is_set():
            car = cars[i % len(cars)]
            i += 1
            try:
                started = session.post(
                    f"{self.booking_url}/api/v1/rentals/",
                    timeout=30,
                    json={"car_id": car, "customer_id": self.customer},
                    headers={"Idempotency-Key": str(uuid.uuid4())},
                )
            except requests.RequestException as exc:
                self._note("start", None, exc.__class__.__name__)
                continue
            self._note("start", started)
            if started.status_code == 201:
                rental = started.json()["id"]
                while not self.stop.is_set():  # ending must get through: retry it until it does
                    try:
                        ended = session.post(f"{self.booking_url}/api/v1/rentals/{rental}/end/", json={}, timeout=30)
                    except requests.RequestException as exc:
                        self._note("end", None, exc.__class__.__name__)
                        time.sleep(0.2)
                        continue
                    self._note("end", ended)
                    if ended.status_code == 200:
                        break
                    time.sleep(0.2)
            else:
                time.sleep(0.05)

    def __enter__(self) -> RentalLoad:
        self._workers = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(self.threads)]
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for worker in self._workers:
            worker.join(timeout=60)


def audit(inventory: tuple[Cluster, str], booking: tuple[Cluster, str]) -> tuple[list[str], dict[str, int]]:
    """Compare the two databases once everything has settled. Returns (problems, counts)."""
    (inventory_cluster, inventory_db), (booking_cluster, booking_db) = inventory, booking
    # Rental holds only: a block is staff's (seed_demo leaves some), never one of booking's rentals.
    reservations = {
        str(r[0]): (str(r[1]), r[2])
        for r in inventory_cluster.query(
            inventory_db, "SELECT id, car_id, state FROM fleet_reservation WHERE kind = 'rental'"
        )
    }
    cars = {str(c[0]): c[1] for c in inventory_cluster.query(inventory_db, "SELECT id, status FROM fleet_car")}
    rentals = {
        str(r[0]): (str(r[1]), r[2])
        for r in booking_cluster.query(booking_db, "SELECT id, car_id, status FROM rentals_rental")
    }
    outbox = dict(booking_cluster.query(booking_db, "SELECT status, count(*) FROM rentals_outboxmessage GROUP BY 1"))
    problems = []
    for rental_id, (car_id, status) in rentals.items():
        held = reservations.get(rental_id)
        if status == "pending":
            problems.append(f"rental {rental_id} still pending")
        elif status == "active":
            if held != (car_id, "active"):
                problems.append(f"active rental {rental_id} has reservation {held}")
            elif cars.get(car_id) != "rented":
                problems.append(f"active rental {rental_id}: car {car_id} is {cars.get(car_id)}")
        elif held is not None and held[1] == "active":
            problems.append(f"{status} rental {rental_id} still holds car {car_id}")
    for reservation_id, (car_id, state) in reservations.items():
        if state == "active" and rentals.get(reservation_id, ("", ""))[1] != "active":
            problems.append(f"reservation {reservation_id} holds car {car_id} for no active rental")
    active_cars = Counter(car for car, state in reservations.values() if state == "active")
    for car_id, status in cars.items():
        if (status == "rented") != (active_cars[car_id] == 1) or active_cars[car_id] > 1:
            problems.append(f"car {car_id} is {status} with {active_cars[car_id]} active reservation(s)")
    if outbox.get("pending") or outbox.get("dead"):
        problems.append(f"outbox not drained: {outbox}")
    counts = Counter(status for _, status in rentals.values())
    return problems, {"rentals": len(rentals), **counts, "reservations": len(reservations)}


def settled(inventory: tuple[Cluster, str], booking: tuple[Cluster, str]) -> bool:
    booking_cluster, booking_db = booking
    pending = booking_cluster.query(
        booking_db,
        "SELECT (SELECT count(*) FROM rentals_rental WHERE status = 'pending') + "
        "(SELECT count(*) FROM rentals_outboxmessage WHERE status = 'pending')",
    )[0][0]
    return pending == 0
