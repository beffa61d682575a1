"""Typed data transfer objects for what inventory answers: cars and reservations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID


class CarStatus(StrEnum):
    AVAILABLE = "available"
    RENTED = "rented"
    MAINTENANCE = "maintenance"
    RETIRED = "retired"


class ReservationState(StrEnum):
    ACTIVE = "active"
    RELEASED = "released"


def _parse_dt(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _code(value: Any) -> str | None:
    """A code or name the contract carries as a string (or null)."""
    if value is not None and not isinstance(value, str):
        raise ValueError(f"expected a string, not {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Car:
    id: UUID
    model: str
    year: int
    plate: str | None
    status: CarStatus
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # v2: the car's class and branch (their codes; None for a car without) and its odometer. A v1 server sends
    # none of them.
    vehicle_class: str | None = None
    location: str | None = None
    odometer_km: int = 0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Car:
        return cls(
            id=UUID(str(data["id"])),
            model=str(data["model"]),
            year=int(data["year"]),
            plate=data.get("plate"),
            status=CarStatus(data["status"]),
            created_at=_parse_dt(data.get("created_at")),
            updated_at=_parse_dt(data.get("updated_at")),
            vehicle_class=data.get("vehicle_class"),
            location=data.get("location"),
            odometer_km=int(data.get("odometer_km") or 0),
        )


@dataclass(frozen=True, slots=True)
class Reservation:
    id: UUID
    car_id: UUID
    state: ReservationState
    started_at: datetime
    released_at: datetime | None = None
    # v2: the window (`ends_at` None while open-ended), the class and branches by code, and when the car left.
    # A v1 server sends none of them: the window starts at started_at and is open-ended.
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    vehicle_class: str | None = None
    location: str | None = None
    return_location: str | None = None
    picked_up_at: datetime | None = None
    # The held car as inventory knows it now (booking keeps them as the rental's snapshot).
    car_model: str | None = None
    car_plate: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reservation:
        started = _parse_dt(data["started_at"])
        if started is None:
            raise ValueError("a reservation always has started_at")
        return cls(
            id=UUID(str(data["id"])),
            car_id=UUID(str(data["car_id"])),
            state=ReservationState(data["state"]),
            started_at=started,
            released_at=_parse_dt(data.get("released_at")),
            starts_at=_parse_dt(data.get("starts_at")) or started,
            ends_at=_parse_dt(data.get("ends_at")),
            vehicle_class=_code(data.get("vehicle_class")),
            location=_code(data.get("location")),
            return_location=_code(data.get("return_location")),
            picked_up_at=_parse_dt(data.get("picked_up_at")),
            car_model=_code(data.get("car_model")),
            car_plate=_code(data.get("car_plate")),
        )


@dataclass(frozen=True, slots=True)
class CarPage:
    count: int
    results: list[Car]
    next: str | None = None
    previous: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CarPage:
        return cls(
            count=int(data["count"]),
            results=[Car.from_json(item) for item in data["results"]],
            next=data.get("next"),
            previous=data.get("previous"),
        )


@dataclass(frozen=True, slots=True)
class ReservationPage:
    count: int
    results: list[Reservation]
    next: str | None = None
    previous: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReservationPage:
        return cls(
            count=int(data["count"]),
            results=[Reservation.from_json(item) for item in data["results"]],
            next=data.get("next"),
            previous=data.get("previous"),
        )
