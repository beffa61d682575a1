"""Losing an instance: one gunicorn of each service is SIGKILLed while clients keep reading through the gateway.

No idempotent request may fail (nginx retries it on the other instance), and rentals keep working after."""

from __future__ import annotations

import json
import signal
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests

from stack import HAS_BOOKING, STAFF_TOKEN, Stack, local_stack

pytestmark = pytest.mark.live

CLIENTS = 4
RUN_SECONDS = 8.0
KILL_AFTER = 2.5


@pytest.fixture(scope="module")
def stack(nginx: str) -> Iterator[Stack]:
    with local_stack("failover", nginx) as running:
        yield running


@dataclass
class ClientLoop:
    """GETs in a loop over a fixed set of idempotent URLs, recording every outcome."""

    urls: list[str]
    stop: threading.Event
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def run(self) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Token {STAFF_TOKEN}"
        i = 0
        while not self.stop.is_set():
            url = self.urls[i % len(self.urls)]
            i += 1
            started = time.perf_counter()
            try:
                response = session.get(url, timeout=15)
                if response.status_code != 200:
                    self.failures.append(f"{url}: {response.status_code} {response.text[:200]}")
            except requests.RequestException as exc:
                self.failures.append(f"{url}: {exc.__class__.__name__}: {exc}")
            self.latencies.append(time.perf_counter() - started)


def rental_round_trip(stack: Stack, car_id: str, customer_id: str) -> None:
    base, staff = stack.gateway.url, stack.staff()
    started = staff.post(
        f"{base}/api/v1/rentals/",
        json={"car_id": car_id, "customer_id": customer_id},
        headers={"Idempotency-Key": str(uuid.uuid4())},
        timeout=15,
    )
    assert started.status_code == 201, started.text
    assert requests.get(f"{base}/api/v1/cars/{car_id}/", timeout=5).json()["status"] == "rented"
    ended = staff.post(f"{base}/api/v1/rentals/{started.json()['id']}/end/", json={}, timeout=15)
    assert ended.status_code == 200, ended.text
    deadline = time.monotonic() + 15
    while requests.get(f"{base}/api/v1/cars/{car_id}/", timeout=5).json()["status"] != "available":
        assert time.monotonic() < deadline, "the car was not freed within 15 s"
        time.sleep(0.1)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def test_killing_one_instance_of_each_service_loses_no_idempotent_request(stack):
    base, staff = stack.gateway.url, stack.staff()
    car = staff.post(f"{base}/api/v1/cars/", json={"model": "Failover", "year": 2024, "status": "available"}).json()
    urls = [f"{base}/api/v1/cars/?limit=5", f"{base}/api/v1/cars/{car['id']}/", f"{base}/api/v1/cars/?status=available"]
    customer_id = None
    if HAS_BOOKING:
        customer = staff.post(
            f"{base}/api/v1/customers/",
            json={"name": "Failover", "email": f"failover-{uuid.uuid4().hex[:8]}@example.com"},
        )
        assert customer.status_code == 201, customer.text
        customer_id = customer.json()["id"]
        urls += [f"{base}/api/v1/rentals/?limit=5", f"{base}/api/v1/customers/{customer_id}/"]
        rental_round_trip(stack, car["id"], customer_id)  # the flow works before

    victims = [stack.inventory[1], *stack.booking[1:2]]
    victim_addresses = {f"127.0.0.1:{victim.port}" for victim in victims}
    stop = threading.Event()
    loops = [ClientLoop(urls, stop) for _ in range(CLIENTS)]
    threads = [threading.Thread(target=loop.run, daemon=True) for loop in loops]
    log_offset = stack.gateway.access_log.stat().st_size
    for thread in threads:
        thread.start()
    time.sleep(KILL_AFTER)
    killed_at = time.time()
    for victim in victims:
        victim.stop(signal.SIGKILL)  # the whole process group: master and workers die at once, mid-request
    time.sleep(RUN_SECONDS - KILL_AFTER)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)

    latencies = [latency for loop in loops for latency in loop.latencies]
    failures = [failure for loop in loops for failure in loop.failures]
    with stack.gateway.access_log.open() as log:
        log.seek(log_offset)
        entries = [json.loads(line) for line in log if line.strip()]
    retried = [e for e in entries if "," in e["upstream_addr"]]  # nginx tried more than one instance
    late = [e for e in entries if e["time"] > time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(killed_at + 1.5))]
    numbers = {
        "requests": len(latencies),
        "failed": len(failures),
        "retried_on_the_other_instance": len(retried),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
        "clients": CLIENTS,
        "seconds": RUN_SECONDS,
        "killed": sorted(victim_addresses),
    }
    print(f"\nfailover: {json.dumps(numbers)}")

    assert len(latencies) > 100, numbers
    assert failures == [], f"{len(failures)} failed idempotent requests, e.g. {failures[:3]}"
    # The dead instances saw traffic before the kill; afterwards every answer comes from a live one.
    assert victim_addresses & {e["upstream_addr"] for e in entries}
    assert all(e["upstream_status"].split(", ")[-1] == "200" for e in late)
    assert not any(e["upstream_addr"].split(", ")[-1] in victim_addresses for e in late)

    if HAS_BOOKING:
        for _ in range(3):
            rental_round_trip(stack, car["id"], customer_id)  # ...and the rental flow keeps working


def tcp_states_to(port: int) -> list[str]:
    """States of the IPv4 connections whose remote end is 127.0.0.1:`port` (01 established, 06 time-wait)."""
    states = []
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            remote_port = int(fields[2].split(":")[1], 16)
            if remote_port == port:
                states.append(fields[3])
    return states


def test_the_gateway_keeps_connections_to_the_instances_alive(stack):
    # keepalive + proxy_http_version 1.1 + Connection "": after a burst, nginx holds idle connections open to
    # the instance instead of closing one per request (which would leave one TIME_WAIT per request).
    live = stack.inventory[0]
    before = tcp_states_to(live.port).count("06")
    for _ in range(60):
        assert requests.get(f"{stack.gateway.url}/api/v1/cars/?limit=1", timeout=5).status_code == 200
    states = tcp_states_to(live.port)
    assert states.count("01") >= 1, states
    assert states.count("06") - before < 10, states
