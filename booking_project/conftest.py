"""Fixtures for the booking suite: staff clients, customers, and a live inventory (gunicorn, its own database)
that booking's InventoryClient can be pointed at."""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Callable, Iterator

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from customers.tests.factories import CustomerFactory
from drivenow_contracts.testing import token_client
from rentals.inventory import reset_inventory_client
from rentals.tests.support import LiveInventory, drop_database


@pytest.fixture
def staff_user(db) -> User:
    return User.objects.create_user("desk-staff", password="pw-desk-staff-1", is_staff=True)


@pytest.fixture
def staff(staff_user) -> APIClient:
    return token_client(staff_user)


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def plain_user_client(db) -> APIClient:
    return token_client(User.objects.create_user("not-staff"))


@pytest.fixture
def customer(db):
    return CustomerFactory()


@pytest.fixture(scope="session")
def metrics_dir() -> Iterator[str]:
    """prometheus_client's multiprocess files of the live services' commands go here, not into the projects."""
    with tempfile.TemporaryDirectory(prefix="booking-test-metrics-") as path:
        yield path


@pytest.fixture(scope="session")
def live_inventory(metrics_dir) -> Iterator[LiveInventory]:
    """Inventory under gunicorn on a fresh database, with the booking service account and a staff token."""
    from drivenow_contracts.testing import live_service

    db_name = f"booking_it_inventory_{os.getpid()}"
    try:
        with live_service(
            settings.BASE_DIR.parent / "inventory_project",
            db_prefix="INVENTORY",
            db_name=db_name,
            env={"PROMETHEUS_MULTIPROC_DIR": metrics_dir},
        ) as service:
            yield LiveInventory(
                service=service,
                service_token=service.manage("create_service_account").strip(),
                staff_token=service.manage("seed_demo").strip(),
            )
    finally:
        drop_database(db_name)


@pytest.fixture
def point_inventory(settings) -> Iterator[Callable[..., None]]:
    """point_inventory(url, token="", read_timeout=None): booking's client talks to that inventory from now on."""

    def point(url: str, token: str = "", read_timeout: float | None = None) -> None:
        settings.BOOKING_INVENTORY_URL = url
        settings.BOOKING_INVENTORY_TOKEN = token
        if read_timeout is not None:
            settings.BOOKING_INVENTORY_READ_TIMEOUT = read_timeout
        reset_inventory_client()

    yield point
    reset_inventory_client()


@pytest.fixture
def inventory(live_inventory, point_inventory) -> LiveInventory:
    """Booking talks to the live inventory in this test."""
    point_inventory(live_inventory.url, live_inventory.service_token)
    return live_inventory


@pytest.fixture
def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as server:
        return int(server.getsockname()[1])


@pytest.fixture
def inventory_down(point_inventory, closed_port) -> str:
    """Booking's inventory URL refuses connections (inventory stopped)."""
    url = f"http://127.0.0.1:{closed_port}"
    point_inventory(url, "any-token")
    return url
