"""Fixtures of the contracts suite: one live inventory server (gunicorn on a fresh database) for the whole session."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest

from drivenow_contracts import InventoryClient

from .live import CarMaker, LiveInventory

# The service this package is the contract of: the sibling project in this repository.
INVENTORY_PROJECT = Path(__file__).resolve().parents[2] / "inventory_project"


@pytest.fixture(scope="session")
def live_inventory() -> Iterator[LiveInventory]:
    """Inventory under gunicorn on database `contracts_it_inventory` (recreated), with its two accounts."""
    from drivenow_contracts.testing import live_service

    with live_service(INVENTORY_PROJECT, db_prefix="INVENTORY", db_name="contracts_it_inventory") as inventory:
        service_token = inventory.manage("create_service_account").strip()
        staff_token = inventory.manage("seed_demo").strip()
        yield LiveInventory(service=inventory, service_token=service_token, staff_token=staff_token)


@pytest.fixture
def inventory_client(live_inventory: LiveInventory) -> Iterator[InventoryClient]:
    """The booking service's view of inventory: its token on every call."""
    client = live_inventory.client()
    yield client
    client.close()


@pytest.fixture
def make_car(live_inventory: LiveInventory) -> CarMaker:
    """Add a car through the staff API (POST /api/v1/cars/) and return its id; a `status` is then set by PATCH."""

    def make(model: str | None = None, year: int = 2023, status: str | None = None) -> UUID:
        body = {"model": model or f"Contract Test {uuid.uuid4().hex[:8]}", "year": year}
        created = live_inventory.staff_request("POST", "/api/v1/cars/", json=body)
        assert created.status_code == 201, created.text
        car_id = UUID(created.json()["id"])
        if status is not None:
            changed = live_inventory.staff_request("PATCH", f"/api/v1/cars/{car_id}/", json={"status": status})
            assert changed.status_code == 200, changed.text
        return car_id

    return make
