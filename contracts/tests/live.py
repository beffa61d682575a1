"""A live inventory service as the contracts tests see it: its URL, the two tokens, and staff calls to set up cars."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

import requests

from drivenow_contracts import InventoryClient
from drivenow_contracts.testing import LiveService

#: make_car(model=None, year=2023, status=None) -> the new car's id
CarMaker = Callable[..., UUID]


@dataclass(frozen=True)
class LiveInventory:
    service: LiveService
    service_token: str  # the booking service's account: may take and release cars
    staff_token: str  # seed_demo's staff user: may add and change cars

    @property
    def url(self) -> str:
        return self.service.url

    def client(self, token: str | None = None) -> InventoryClient:
        """A client with the service token (or `token`); no retries, so a failure is never hidden."""
        token = self.service_token if token is None else token
        return InventoryClient(self.url, token, connect_timeout=2.0, read_timeout=10.0, retries=0)

    def staff_request(self, method: str, path: str, json: object = None) -> requests.Response:
        headers = {"Authorization": f"Token {self.staff_token}"}
        return requests.request(method, self.url + path, headers=headers, json=json, timeout=10)
