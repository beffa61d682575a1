"""The typed client booking (and anyone else) uses to talk to inventory: DTOs in, typed exceptions out."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID

import requests
from requests.adapters import HTTPAdapter

from .dto import Car, CarPage, CarStatus, Reservation, ReservationPage, ReservationState
from .errors import EXCEPTIONS_BY_CODE, ContractError, InventoryRejected, InventoryUnavailable

log = logging.getLogger(__name__)

#: Called after every attempt with (operation, seconds, outcome); booking feeds its latency histogram from it.
Observer = Callable[[str, float, str], None]
T = TypeVar("T")

# Failures after which nobody knows whether inventory acted: no answer, no complete answer (a body cut off
# mid-way raises ChunkedEncodingError, which is not a ConnectionError).
TRANSPORT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


def _rfc3339(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("a timestamp the contract carries has an offset")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class InventoryClient:
    """Talks to inventory's REST API over one pooled `requests.Session`.

    Every call has a (connect, read) timeout and sends the service token and an `X-Request-ID`.
    Only idempotent calls are retried (all of them are, here: reads; reserve, keyed by the caller's reservation
    id; release and pick-up, which do nothing twice; extend, which sets an end; reassign, which names the car it
    leaves), and only on connection errors, timeouts, cut-off answers and 502/503/504.
    An answer that does not parse as the contract's DTO is InventoryUnavailable too: the outcome is unknown.

    Proxy variables (HTTP_PROXY, NO_PROXY, …) and ~/.netrc are ignored unless `trust_env=True`: inventory is an
    internal service reached directly, and requests would look them up again on every call, a cost the caller
    pays for nothing.
    """

    RETRY_STATUSES = frozenset({502, 503, 504})

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        connect_timeout: float = 1.0,
        read_timeout: float = 3.0,
        retries: int = 2,
        backoff: float = 0.05,
        pool_size: int = 16,
        request_id: Callable[[], str | None] | None = None,
        observer: Observer | None = None,
        session: requests.Session | None = None,
        trust_env: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.retries = retries
        self.backoff = backoff
        self._request_id = request_id
        self._observer = observer
        self.session = session or requests.Session()
        self.session.trust_env = trust_env
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"Accept": "application/json", "User-Agent": "drivenow-contracts/0.1"})
        if token:
            self.session.headers["Authorization"] = f"Token {token}"

    # -- cars -----------------------------------------------------------------------------------------
    def get_car(self, car_id: UUID | str) -> Car:
        return self._call("get_car", Car.from_json, "GET", f"/api/v1/cars/{car_id}/")

    def list_cars(
        self,
        *,
        status: CarStatus | str | None = None,
        model: str | None = None,
        year: int | None = None,
        limit: int | None = None,
        offset: int | None = None,
        ordering: str | None = None,
    ) -> CarPage:
        params = {
            "status": str(status) if status is not None else None,
            "model": model,
            "year": year,
            "limit": limit,
            "offset": offset,
            "ordering": ordering,
        }
        given = {k: v for k, v in params.items() if v is not None}
        return self._call("list_cars", CarPage.from_json, "GET", "/api/v1/cars/", params=given)

    def availability(
        self,
        *,
        location: str,
        pickup_at: datetime,
        return_at: datetime,
        vehicle_class: str | None = None,
        return_location: str | None = None,
    ) -> dict[str, int]:
        """How many cars of each class (or of `vehicle_class`) at the branch are free for the window. Raises
        InventoryRejected (422 `outside_opening_hours`, `location_not_found`, …) as a reserve would."""
        params = {"location": location, "pickup_at": _rfc3339(pickup_at), "return_at": _rfc3339(return_at)}
        if vehicle_class is not None:
            params["vehicle_class"] = vehicle_class
        if return_location is not None:
            params["return_location"] = return_location

        def parse(rows: Any) -> dict[str, int]:
            return {str(row["vehicle_class"]): int(row["available_cars"]) for row in rows}

        return self._call("availability", parse, "GET", "/api/v1/availability/", params=params)

    # -- reservations ---------------------------------------------------------------------------------
    def reserve(self, *, reservation_id: UUID | str, car_id: UUID | str) -> Reservation:
        """Hold the car under this reservation id. Replaying the same id for the same car returns the hold.

        Raises CarUnavailable, CarNotFound, ReservationConflict or InventoryUnavailable (outcome unknown).
        """
        body = {"id": str(reservation_id), "car_id": str(car_id)}
        return self._call("reserve", Reservation.from_json, "POST", "/api/v1/reservations/", json=body)

    def reserve_window(
        self,
        *,
        reservation_id: UUID | str,
        starts_at: datetime,
        ends_at: datetime,
        car_id: UUID | str | None = None,
        vehicle_class: str | None = None,
        location: str | None = None,
        return_location: str | None = None,
    ) -> Reservation:
        """Hold a car for [starts_at, ends_at) (plus its class's turnaround): this car, or the best-fitting free car
        of `vehicle_class` at `location`. Replaying the same id and request returns the hold.

        Raises ClassUnavailable, CarUnavailable, CarNotFound, ReservationConflict, InventoryRejected (a class or
        branch with no such code, a window that does not end after it starts) or InventoryUnavailable."""
        named = {
            "car_id": None if car_id is None else str(car_id),
            "vehicle_class": vehicle_class,
            "location": location,
            "return_location": return_location,
        }
        body: dict[str, Any] = {
            "id": str(reservation_id),
            "starts_at": _rfc3339(starts_at),
            "ends_at": _rfc3339(ends_at),
            **{name: value for name, value in named.items() if value is not None},
        }
        return self._call("reserve", Reservation.from_json, "POST", "/api/v1/reservations/", json=body)

    def pick_up(self, reservation_id: UUID | str, *, odometer_km: int | None = None) -> Reservation:
        """The car leaves: it becomes `rented`. Picking up twice returns the hold.

        Raises CarNotReturned (the car is still out: reassign), NotStarted (too early), CarUnavailable,
        ReservationNotFound, ReservationConflict (released) or InventoryUnavailable."""
        body = {} if odometer_km is None else {"odometer_km": odometer_km}
        path = f"/api/v1/reservations/{reservation_id}/pick-up/"
        return self._call("pick_up", Reservation.from_json, "POST", path, json=body)

    def extend(self, reservation_id: UUID | str, *, ends_at: datetime) -> Reservation:
        """Move the hold's end (later or earlier). Raises ExtensionConflict (nothing changed) or as pick_up."""
        path = f"/api/v1/reservations/{reservation_id}/extend/"
        return self._call("extend", Reservation.from_json, "POST", path, json={"ends_at": _rfc3339(ends_at)})

    def reassign(
        self, reservation_id: UUID | str, *, from_car_id: UUID | str, to_car_id: UUID | str | None = None
    ) -> Reservation:
        """Move a hold not yet picked up off `from_car_id` to another free car of its class at its branch (or to
        `to_car_id`, any free car there). Naming the car it leaves makes a retry safe: a hold already moved off it
        is answered as it is.

        Raises ClassUnavailable / CarUnavailable (nothing changed) or as pick_up."""
        path = f"/api/v1/reservations/{reservation_id}/reassign/"
        body = {"from_car_id": str(from_car_id)}
        if to_car_id is not None:
            body["to_car_id"] = str(to_car_id)
        return self._call("reassign", Reservation.from_json, "POST", path, json=body)

    def get_reservation(self, reservation_id: UUID | str) -> Reservation:
        path = f"/api/v1/reservations/{reservation_id}/"
        return self._call("get_reservation", Reservation.from_json, "GET", path)

    def list_reservations(
        self,
        *,
        state: ReservationState | str | None = None,
        car_id: UUID | str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> ReservationPage:
        """A page of holds, oldest first (booking's reconciler compares them with its rentals)."""
        params = {
            "state": str(state) if state is not None else None,
            "car_id": str(car_id) if car_id is not None else None,
            "limit": limit,
            "offset": offset,
        }
        given = {k: v for k, v in params.items() if v is not None}
        return self._call("list_reservations", ReservationPage.from_json, "GET", "/api/v1/reservations/", params=given)

    def release(
        self,
        reservation_id: UUID | str,
        *,
        odometer_km: int | None = None,
        location: str | None = None,
        unless_picked_up: bool = False,
    ) -> Reservation:
        """Release the hold; releasing an already released reservation succeeds. A picked-up car comes back with
        its odometer reading and at `location` (a one-way return moves it).

        Raises ReservationNotFound when inventory never held this id — which spends the id all the same: a reserve
        with it that arrives later is refused with ReservationConflict. `unless_picked_up` (a cancel, a no-show):
        ReservationConflict instead of releasing a hold whose car has left."""
        path = f"/api/v1/reservations/{reservation_id}/release/"
        body: dict[str, Any] = {"unless_picked_up": True} if unless_picked_up else {}
        if odometer_km is not None:
            body["odometer_km"] = odometer_km
        if location is not None:
            body["location"] = location
        return self._call("release", Reservation.from_json, "POST", path, json=body)

    def close(self) -> None:
        self.session.close()

    # -- transport ------------------------------------------------------------------------------------
    def _call(self, operation: str, parse: Callable[[dict[str, Any]], T], method: str, path: str, **kwargs: Any) -> T:
        request_id = (self._request_id() if self._request_id else None) or uuid.uuid4().hex
        headers = {"X-Request-ID": request_id}
        url = self.base_url + path
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                response = self.session.request(method, url, headers=headers, timeout=self.timeout, **kwargs)
            except TRANSPORT_ERRORS as exc:
                self._observe(operation, started, "unreachable")
                if attempt < self.retries:
                    attempt = self._sleep_before_retry(attempt)
                    continue
                raise InventoryUnavailable(f"inventory unreachable: {type(exc).__name__}") from exc
            if response.status_code in self.RETRY_STATUSES and attempt < self.retries:
                self._observe(operation, started, str(response.status_code))
                attempt = self._sleep_before_retry(attempt)
                continue
            self._observe(operation, started, str(response.status_code))
            payload = self._decode(response)
            try:
                return parse(payload)
            except (KeyError, TypeError, ValueError) as exc:
                # The answer is not the contract's (a misrouted gateway, a drifted server): the outcome is unknown.
                status = response.status_code
                detail = f"inventory answered {status} with an unexpected body: {exc!r}"
                raise InventoryUnavailable(detail, status=status) from exc

    def _sleep_before_retry(self, attempt: int) -> int:
        time.sleep(self.backoff * (2**attempt))
        return attempt + 1

    def _observe(self, operation: str, started: float, outcome: str) -> None:
        if self._observer is not None:
            self._observer(operation, time.perf_counter() - started, outcome)

    @staticmethod
    def _decode(response: requests.Response) -> Any:
        try:
            payload = response.json()
        except ValueError:
            payload = None
        body: Mapping[str, Any] = payload if isinstance(payload, dict) else {}
        status = response.status_code
        if status < 400:
            if not isinstance(payload, dict | list):  # every answer is an object, but availability's list
                raise InventoryUnavailable(f"inventory answered {status} without a JSON object", status=status)
            return payload
        code = str(body.get("code", ""))
        detail = str(body.get("detail", "")) or response.reason or ""
        if status >= 500:
            raise InventoryUnavailable(f"inventory answered {status}: {detail}", status=status)
        exc_type: type[ContractError] | None = EXCEPTIONS_BY_CODE.get(code)
        if exc_type is not None:
            raise exc_type(detail, status=status)
        raise InventoryRejected(detail, status=status, code=code)
