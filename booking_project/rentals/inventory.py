"""The InventoryClients of this process (one for calls, one for releasing a car at once), built lazily from
settings.

Every call carries the current request id (or the relay's) and feeds `booking_inventory_client_seconds`.
"""

from __future__ import annotations

import threading

import requests
from django.conf import settings

from drivenow_contracts import InventoryClient
from drivenow_contracts.server.health import forget_ready_reports
from drivenow_contracts.server.request_id import request_id_var

from . import metrics

# The clients of this process by purpose, each built on first use from the settings of that moment.
_clients: dict[str, InventoryClient] = {}
_lock = threading.Lock()


def _current_request_id() -> str | None:
    request_id = request_id_var.get()
    return None if request_id == "-" else request_id  # "-": outside a request; the client makes one


def _client_for(purpose: str, *, connect_timeout: float, read_timeout: float, retries: int) -> InventoryClient:
    client = _clients.get(purpose)
    if client is None:
        with _lock:
            client = _clients.get(purpose)
            if client is None:
                client = _clients[purpose] = InventoryClient(
                    settings.BOOKING_INVENTORY_URL,
                    settings.BOOKING_INVENTORY_TOKEN or None,
                    connect_timeout=connect_timeout,
                    read_timeout=read_timeout,
                    retries=retries,
                    request_id=_current_request_id,
                    observer=metrics.inventory_call_observed,
                )
    return client


def inventory_client() -> InventoryClient:
    return _client_for(
        "calls",
        connect_timeout=settings.BOOKING_INVENTORY_CONNECT_TIMEOUT,
        read_timeout=settings.BOOKING_INVENTORY_READ_TIMEOUT,
        retries=settings.BOOKING_INVENTORY_RETRIES,
    )


def inventory_release_client() -> InventoryClient:
    """The client a request uses to release a car at once (ending a rental): one short attempt, so a slow or
    absent inventory costs the answer little; the relay retries what it could not do."""
    timeout = settings.BOOKING_RELEASE_NOW_TIMEOUT
    return _client_for("release-now", connect_timeout=timeout, read_timeout=timeout, retries=0)


def inventory_call_budget() -> float:
    """The longest one client call can take: every attempt times out (connect + read), plus the retry pauses."""
    attempts = settings.BOOKING_INVENTORY_RETRIES + 1
    per_attempt = settings.BOOKING_INVENTORY_CONNECT_TIMEOUT + settings.BOOKING_INVENTORY_READ_TIMEOUT
    return attempts * per_attempt + 0.05 * (2**attempts)


def reset_inventory_client() -> None:
    """Drop the clients so the next call builds them from the current settings (tests that move inventory)."""
    with _lock:
        for client in _clients.values():
            client.close()
        _clients.clear()
    forget_ready_reports()  # /health/ready's kept answer was about the old inventory


def inventory_status() -> str:
    """For /health/ready: inventory's own readiness. Reported, never fatal; at most 1 s, so a hanging inventory
    cannot push booking's own probe past its timeout (2 s in deploy/k8s)."""
    client = inventory_client()
    try:
        response = client.session.get(f"{client.base_url}/health/ready", timeout=(0.3, 0.7))
    except requests.RequestException as exc:
        return f"unavailable: {exc.__class__.__name__}"
    return "ok" if response.status_code == 200 else f"unavailable: HTTP {response.status_code}"
