"""Inventory answers exactly what the contract package says it answers: its statuses and states are the
contract's enums, and a car and a reservation as the API renders them are the contract's DTOs, field by field."""

import dataclasses
import uuid

import drivenow_contracts as contract
from fleet.models import CarStatus, ReservationState
from fleet.serializers import CarOutput, ReservationOutput


def test_car_statuses_are_the_contracts():
    assert [status.value for status in CarStatus] == [status.value for status in contract.CarStatus]


def test_reservation_states_are_the_contracts():
    assert [state.value for state in ReservationState] == [state.value for state in contract.ReservationState]


def test_the_car_answer_has_exactly_the_contracts_fields_and_parses_as_its_dto(car):
    answer = CarOutput(car).data
    assert list(answer) == [field.name for field in dataclasses.fields(contract.Car)]
    parsed = contract.Car.from_json(dict(answer))
    assert (parsed.id, parsed.model, parsed.year, parsed.plate, parsed.status) == (
        car.id,
        car.model,
        car.year,
        car.plate,
        contract.CarStatus(car.status),
    )


def test_the_reservation_answer_has_exactly_the_contracts_fields_and_parses_as_its_dto(service, car):
    answer = service.post(
        "/api/v1/reservations/", {"id": str(uuid.uuid4()), "car_id": str(car.id)}, format="json"
    ).json()
    assert list(answer) == [field.name for field in dataclasses.fields(contract.Reservation)]
    assert list(ReservationOutput.Meta.fields) == list(answer)
    parsed = contract.Reservation.from_json(answer)
    assert (parsed.car_id, parsed.state, parsed.released_at) == (car.id, contract.ReservationState.ACTIVE, None)
