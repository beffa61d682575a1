"""Test helpers: a live inventory as booking's tests see it, and a TCP proxy that can turn slow or dead."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

import requests

from drivenow_contracts import InventoryClient
from drivenow_contracts.testing import LiveService


def drop_database(name: str) -> None:
    import psycopg

    port = os.environ.get("DN_TEST_PG_PORT")
    if not port:
        return
    with psycopg.connect(host="127.0.0.1", port=port, user="drivenow", dbname="postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass(frozen=True)
class LiveInventory:
    service: LiveService
    service_token: str  # the booking service's account: may take and release cars
    staff_token: str  # seed_demo's staff user: may add and change cars

    @property
    def url(self) -> str:
        return self.service.url

    def client(self) -> InventoryClient:
        """A client of our own (not booking's): the service token, no retries."""
        return InventoryClient(self.url, self.service_token, connect_timeout=2.0, read_timeout=10.0, retries=0)

    def staff_request(self, method: str, path: str, json: object = None) -> requests.Response:
        headers = {"Authorization": f"Token {self.staff_token}"}
        return requests.request(method, self.url + path, headers=headers, json=json, timeout=10)

    def make_car(self, status: str | None = None) -> UUID:
        body = {"model": f"Booking Test {uuid.uuid4().hex[:8]}", "year": 2023}
        created = self.staff_request("POST", "/api/v1/cars/", json=body)
        assert created.status_code == 201, created.text
        car_id = UUID(created.json()["id"])
        if status is not None:
            changed = self.staff_request("PATCH", f"/api/v1/cars/{car_id}/", json={"status": status})
            assert changed.status_code == 200, changed.text
        return car_id

    def car_status(self, car_id: UUID | str) -> str:
        return str(self.staff_request("GET", f"/api/v1/cars/{car_id}/").json()["status"])

    def reservation_state(self, reservation_id: UUID | str) -> str | None:
        headers = {"Authorization": f"Token {self.service_token}"}
        answer = requests.get(f"{self.url}/api/v1/reservations/{reservation_id}/", headers=headers, timeout=10)
        return None if answer.status_code == 404 else str(answer.json()["state"])

    def wait_for_car(self, car_id: UUID | str, status: str, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while (current := self.car_status(car_id)) != status:
            if time.monotonic() > deadline:
                raise AssertionError(f"car {car_id} is {current!r}, not {status!r}, after {timeout}s")
            time.sleep(0.1)


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


class TcpProxy:
    """Forwards 127.0.0.1:<port> to an upstream port. `delay` > 0 makes each new connection wait that long
    before it is forwarded (an inventory slower than booking's timeout: the request still lands, late)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.delay = 0.0
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0), backlog=128)
        self._server.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}"

    def set_delay(self, seconds: float) -> None:
        """Change the delay and cut every forwarding connection, so pooled keep-alive ones cannot dodge it."""
        self.delay = seconds
        with self._open_lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.set_delay(0)
        self._stop.set()
        self._thread.join(timeout=2)
        self._server.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._handle, args=(client, self.delay), daemon=True).start()

    def _handle(self, client: socket.socket, delay: float) -> None:
        if delay:
            time.sleep(delay)
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
        except OSError:
            client.close()  # upstream down: hang up, as a dead inventory would
            return
        with self._open_lock:  # only forwarding connections are cut by set_delay; delayed ones still land
            self._open.add(client)
        upstream.settimeout(None)
        client.settimeout(None)

        def pipe(src: socket.socket, dst: socket.socket) -> None:
            try:
                while chunk := src.recv(65536):
                    dst.sendall(chunk)
            except OSError:
                pass
            finally:
                for sock in (src, dst):
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)

        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
        pipe(client, upstream)
        with self._open_lock:
            self._open.discard(client)
        client.close()
        upstream.close()
