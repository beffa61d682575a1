"""The DTOs read inventory's JSON into typed values: UUIDs, enums, aware datetimes, pages of cars."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest
import responses

from drivenow_contracts import Car, CarPage, CarStatus, InventoryClient, Reservation, ReservationState

CAR = {
    "id": "6f1c2a9e-2b1d-4c1e-9a57-0d8f4b7c1a00",
    "model": "Tesla Model Y",
    "year": 2024,
    "plate": "DN100",
    "status": "rented",
    "created_at": "2025-01-02T10:00:00.123456Z",
    "updated_at": "2025-01-03T11:30:00+01:00",
}


def test_car_parses_every_field_into_its_type() -> None:
    car = Car.from_json(CAR)

    assert car.id == UUID("6f1c2a9e-2b1d-4c1e-9a57-0d8f4b7c1a00")
    assert (car.model, car.year, car.plate) == ("Tesla Model Y", 2024, "DN100")
    assert car.status is CarStatus.RENTED
    assert car.created_at == datetime(2025, 1, 2, 10, 0, 0, 123456, tzinfo=UTC)
    assert car.updated_at is not None and car.updated_at.utcoffset() is not None
    assert car.updated_at == datetime(2025, 1, 3, 10, 30, tzinfo=UTC)


def test_car_without_plate_or_timestamps_parses() -> None:
    car = Car.from_json({"id": CAR["id"], "model": "Fiat 500", "year": 2019, "plate": None, "status": "available"})

    assert car.plate is None
    assert car.created_at is None and car.updated_at is None
    assert car.status == "available"  # a StrEnum compares equal to its wire value


def test_a_v1_car_has_no_class_or_branch_and_a_zero_odometer() -> None:
    car = Car.from_json(CAR)

    assert (car.vehicle_class, car.location, car.odometer_km) == (None, None, 0)


def test_a_v2_car_names_its_class_and_branch_by_code_and_has_its_odometer() -> None:
    car = Car.from_json({**CAR, "vehicle_class": "ECONOMY", "location": "TLV-AIR", "odometer_km": 48213})

    assert (car.vehicle_class, car.location, car.odometer_km) == ("ECONOMY", "TLV-AIR", 48213)


def test_car_with_an_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError):
        Car.from_json({**CAR, "status": "stolen"})


def test_active_reservation_has_no_release_time() -> None:
    reservation = Reservation.from_json(
        {
            "id": "0b7e9c1a-1111-4c1e-9a57-0d8f4b7c1a99",
            "car_id": CAR["id"],
            "state": "active",
            "started_at": "2025-01-02T10:00:00Z",
            "released_at": None,
        }
    )

    assert reservation.id == UUID("0b7e9c1a-1111-4c1e-9a57-0d8f4b7c1a99")
    assert reservation.car_id == UUID(str(CAR["id"]))
    assert reservation.state is ReservationState.ACTIVE
    assert reservation.started_at == datetime(2025, 1, 2, 10, tzinfo=UTC)
    assert reservation.released_at is None


def test_released_reservation_has_its_release_time() -> None:
    reservation = Reservation.from_json(
        {
            "id": "0b7e9c1a-1111-4c1e-9a57-0d8f4b7c1a99",
            "car_id": CAR["id"],
            "state": "released",
            "started_at": "2025-01-02T10:00:00Z",
            "released_at": "2025-01-02T12:00:00Z",
        }
    )

    assert reservation.state is ReservationState.RELEASED
    assert reservation.released_at == datetime(2025, 1, 2, 12, tzinfo=UTC)


def test_a_v1_reservation_starts_when_it_started_and_is_open_ended() -> None:
    reservation = Reservation.from_json(
        {"id": CAR["id"], "car_id": CAR["id"], "state": "active", "started_at": "2025-01-02T10:00:00Z"}
    )

    assert reservation.starts_at == reservation.started_at and reservation.ends_at is None
    assert (reservation.vehicle_class, reservation.location, reservation.picked_up_at) == (None, None, None)


def test_a_v2_reservation_has_its_window_class_branches_and_pick_up() -> None:
    reservation = Reservation.from_json(
        {
            "id": CAR["id"],
            "car_id": CAR["id"],
            "state": "active",
            "started_at": "2031-03-07T09:00:00Z",
            "released_at": None,
            "starts_at": "2031-03-07T09:00:00Z",
            "ends_at": "2031-03-08T09:00:00+02:00",
            "vehicle_class": "COMPACT",
            "location": "TLV-AIR",
            "return_location": "TLV-CEN",
            "picked_up_at": "2031-03-07T08:50:00Z",
        }
    )

    assert reservation.ends_at == datetime(2031, 3, 8, 7, tzinfo=UTC)
    assert (reservation.vehicle_class, reservation.location, reservation.return_location) == (
        "COMPACT",
        "TLV-AIR",
        "TLV-CEN",
    )
    assert reservation.picked_up_at == datetime(2031, 3, 7, 8, 50, tzinfo=UTC)


def test_a_reservation_whose_class_is_no_string_is_refused() -> None:
    with pytest.raises(ValueError):
        Reservation.from_json(
            {"id": CAR["id"], "car_id": CAR["id"], "state": "active", "started_at": "2031-03-07T09:00:00Z",
             "vehicle_class": 7}
        )  # fmt: skip


def test_reservation_without_a_start_is_refused() -> None:
    with pytest.raises(ValueError):
        Reservation.from_json({"id": CAR["id"], "car_id": CAR["id"], "state": "active", "started_at": None})


def test_dtos_are_immutable() -> None:
    car = Car.from_json(CAR)

    with pytest.raises(AttributeError):
        car.status = CarStatus.AVAILABLE  # type: ignore[misc]


@responses.activate
def test_list_cars_returns_a_page_of_cars_with_its_links() -> None:
    next_url = "http://inventory.test/api/v1/cars/?limit=1&offset=1"
    responses.add(
        responses.GET,
        "http://inventory.test/api/v1/cars/",
        json={"count": 2, "next": next_url, "previous": None, "results": [CAR]},
    )

    page = InventoryClient("http://inventory.test", "t").list_cars(limit=1)

    assert isinstance(page, CarPage)
    assert page.count == 2
    assert page.next == next_url and page.previous is None
    assert page.results == [Car.from_json(CAR)]
