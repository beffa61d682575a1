"""InventoryClient against real sockets that misbehave: a server that never answers, a closed port, a cut-off body."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from drivenow_contracts import InventoryClient, InventoryUnavailable

CAR_ID = "6f1c2a9e-2b1d-4c1e-9a57-0d8f4b7c1a00"


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A socket on 127.0.0.1 that accepts connections (the kernel completes the handshake) and never replies."""
    with socket.create_server(("127.0.0.1", 0), backlog=8) as server:
        yield server.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as server:
        return int(server.getsockname()[1])


@pytest.fixture
def truncating_server() -> Iterator[int]:
    """Answers 200 with a Content-Length of 100 and hangs up after 10 bytes of body."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                conn.sendall(
                    b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"id": "6f'
                )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=2)
    server.close()


def test_read_timeout_bounds_a_call_to_a_server_that_never_answers(silent_server: int) -> None:
    client = InventoryClient(f"http://127.0.0.1:{silent_server}", "t", read_timeout=0.3, retries=0)

    started = time.monotonic()
    with pytest.raises(InventoryUnavailable) as raised:
        client.get_car(CAR_ID)
    elapsed = time.monotonic() - started

    assert isinstance(raised.value.__cause__, requests.exceptions.ReadTimeout)
    assert 0.3 <= elapsed < 2.0


def test_closed_port_is_unavailable_after_every_attempt(closed_port: int) -> None:
    outcomes: list[str] = []
    client = InventoryClient(
        f"http://127.0.0.1:{closed_port}",
        "t",
        retries=2,
        backoff=0,
        observer=lambda operation, seconds, outcome: outcomes.append(outcome),
    )

    with pytest.raises(InventoryUnavailable) as raised:
        client.release("0b7e9c1a-1111-4c1e-9a57-0d8f4b7c1a99")

    assert isinstance(raised.value.__cause__, requests.exceptions.ConnectionError)
    assert outcomes == ["unreachable"] * 3


def test_body_cut_off_mid_answer_is_unavailable(truncating_server: int) -> None:
    outcomes: list[str] = []
    client = InventoryClient(
        f"http://127.0.0.1:{truncating_server}",
        "t",
        retries=1,
        backoff=0,
        observer=lambda operation, seconds, outcome: outcomes.append(outcome),
    )

    with pytest.raises(InventoryUnavailable):
        client.get_car(CAR_ID)

    assert outcomes == ["unreachable"] * 2
