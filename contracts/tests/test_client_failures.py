"""InventoryClient's failure paths and wire manners against a fake inventory (`responses`): retries, errors, headers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from drivenow_contracts import (
    CarNotFound,
    CarUnavailable,
    ContractError,
    ErrorCode,
    InventoryClient,
    InventoryRejected,
    InventoryUnavailable,
    ReservationConflict,
    ReservationNotFound,
    ReservationState,
)

BASE = "http://inventory.test"
CAR_ID = "6f1c2a9e-2b1d-4c1e-9a57-0d8f4b7c1a00"
RESERVATION_ID = "0b7e9c1a-1111-4c1e-9a57-0d8f4b7c1a99"
CAR_URL = f"{BASE}/api/v1/cars/{CAR_ID}/"
RESERVE_URL = f"{BASE}/api/v1/reservations/"
CAR_JSON = {
    "id": CAR_ID,
    "model": "Tesla Model Y",
    "year": 2024,
    "plate": "DN100",
    "status": "available",
    "created_at": "2025-01-02T10:00:00.123456Z",
    "updated_at": "2025-01-02T10:00:00.123456+00:00",
}
RESERVATION_JSON = {
    "id": RESERVATION_ID,
    "car_id": CAR_ID,
    "state": "active",
    "started_at": "2025-01-02T10:00:00.123456Z",
    "released_at": None,
}
PROBLEM = "application/problem+json"


def problem(status: int, code: str, detail: str = "refused") -> dict[str, object]:
    return {"type": f"urn:drivenow:problem:{code}", "title": "x", "status": status, "detail": detail, "code": code}


@pytest.fixture
def inventory() -> Iterator[responses.RequestsMock]:
    """A fake inventory: every HTTP call the client makes must match a registered answer."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the client's backoff sleeps instead of sleeping."""
    sleeps: list[float] = []
    monkeypatch.setattr("drivenow_contracts.client.time.sleep", sleeps.append)
    return sleeps


def make_client(**options: object) -> InventoryClient:
    return InventoryClient(BASE, "service-token-123", **options)  # type: ignore[arg-type]


# -- unreachable inventory: bounded retries, then InventoryUnavailable ---------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        requests.exceptions.ConnectionError("connection refused"),
        requests.exceptions.ConnectTimeout("connect timed out"),
        requests.exceptions.ReadTimeout("read timed out"),
    ],
    ids=["connection-error", "connect-timeout", "read-timeout"],
)
def test_unreachable_inventory_is_retried_then_reported_unavailable(
    inventory: responses.RequestsMock, no_sleep: list[float], failure: Exception
) -> None:
    inventory.add(responses.GET, CAR_URL, body=failure)

    with pytest.raises(InventoryUnavailable) as raised:
        make_client(retries=2).get_car(CAR_ID)

    assert len(inventory.calls) == 3  # the first attempt and two retries, no more
    assert raised.value.__cause__ is failure
    assert raised.value.status is None
    assert raised.value.code == ErrorCode.INVENTORY_UNAVAILABLE


def test_retries_zero_makes_exactly_one_attempt(inventory: responses.RequestsMock, no_sleep: list[float]) -> None:
    inventory.add(responses.GET, CAR_URL, body=requests.exceptions.ReadTimeout())

    with pytest.raises(InventoryUnavailable):
        make_client(retries=0).get_car(CAR_ID)

    assert len(inventory.calls) == 1
    assert no_sleep == []


def test_retries_back_off_exponentially(inventory: responses.RequestsMock, no_sleep: list[float]) -> None:
    inventory.add(responses.GET, CAR_URL, body=requests.exceptions.ConnectionError())

    with pytest.raises(InventoryUnavailable):
        make_client(retries=3, backoff=0.05).get_car(CAR_ID)

    assert no_sleep == pytest.approx([0.05, 0.1, 0.2])


def test_reserve_is_retried_after_a_read_timeout_and_keeps_its_reservation_id(
    inventory: responses.RequestsMock, no_sleep: list[float]
) -> None:
    # The outcome of a timed-out reserve is unknown; replaying the same id is what makes the retry safe.
    inventory.add(responses.POST, RESERVE_URL, body=requests.exceptions.ReadTimeout())
    inventory.add(responses.POST, RESERVE_URL, json=RESERVATION_JSON, status=200)

    reservation = make_client(retries=1).reserve(reservation_id=RESERVATION_ID, car_id=CAR_ID)

    assert reservation.id == uuid.UUID(RESERVATION_ID)
    bodies = [call.request.body for call in inventory.calls]
    assert len(bodies) == 2 and bodies[0] == bodies[1]


def test_truncated_answer_is_retried_then_reported_unavailable(
    inventory: responses.RequestsMock, no_sleep: list[float]
) -> None:
    # What requests raises when the connection drops in the middle of the body.
    inventory.add(responses.GET, CAR_URL, body=requests.exceptions.ChunkedEncodingError("IncompleteRead"))

    with pytest.raises(InventoryUnavailable):
        make_client(retries=1).get_car(CAR_ID)

    assert len(inventory.calls) == 2


# -- 5xx ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_are_retried_then_reported_unavailable(
    inventory: responses.RequestsMock, no_sleep: list[float], status: int
) -> None:
    inventory.add(responses.GET, CAR_URL, body="<html>bad gateway</html>", status=status, content_type="text/html")

    with pytest.raises(InventoryUnavailable) as raised:
        make_client(retries=2).get_car(CAR_ID)

    assert len(inventory.calls) == 3
    assert raised.value.status == status


def test_gateway_error_then_success_returns_the_answer(
    inventory: responses.RequestsMock, no_sleep: list[float]
) -> None:
    inventory.add(responses.GET, CAR_URL, json=problem(503, "database_unavailable"), status=503, content_type=PROBLEM)
    inventory.add(responses.GET, CAR_URL, json=CAR_JSON)

    car = make_client(retries=2).get_car(CAR_ID)

    assert car.id == uuid.UUID(CAR_ID)
    assert [call.response.status_code for call in inventory.calls] == [503, 200]


def test_internal_error_is_unavailable_without_a_retry(
    inventory: responses.RequestsMock, no_sleep: list[float]
) -> None:
    inventory.add(responses.GET, CAR_URL, json=problem(500, "internal_error", "boom"), status=500, content_type=PROBLEM)

    with pytest.raises(InventoryUnavailable) as raised:
        make_client(retries=2).get_car(CAR_ID)

    assert len(inventory.calls) == 1
    assert raised.value.status == 500
    assert "boom" in str(raised.value)


# -- 4xx problem+json → typed exceptions, never retried ------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (409, "car_unavailable", CarUnavailable),
        (422, "car_not_found", CarNotFound),
        (404, "reservation_not_found", ReservationNotFound),
        (409, "reservation_conflict", ReservationConflict),
    ],
)
def test_problem_codes_become_typed_errors(
    inventory: responses.RequestsMock, status: int, code: str, expected: type[ContractError]
) -> None:
    body = problem(status, code, "the reason")
    inventory.add(responses.POST, RESERVE_URL, json=body, status=status, content_type=PROBLEM)

    with pytest.raises(expected) as raised:
        make_client(retries=2).reserve(reservation_id=RESERVATION_ID, car_id=CAR_ID)

    assert type(raised.value) is expected
    assert raised.value.code == code
    assert raised.value.status == status
    assert raised.value.detail == "the reason"
    assert len(inventory.calls) == 1  # a refusal is an answer: never retried


def test_unknown_problem_code_is_rejected_with_its_raw_code(inventory: responses.RequestsMock) -> None:
    body = problem(429, "throttled", "slow down")
    inventory.add(responses.POST, RESERVE_URL, json=body, status=429, content_type=PROBLEM)

    with pytest.raises(InventoryRejected) as raised:
        make_client().reserve(reservation_id=RESERVATION_ID, car_id=CAR_ID)

    assert raised.value.raw_code == "throttled"
    assert raised.value.status == 429
    assert raised.value.detail == "slow down"
    assert len(inventory.calls) == 1


def test_4xx_without_a_problem_body_is_rejected_with_the_reason_phrase(inventory: responses.RequestsMock) -> None:
    inventory.add(responses.GET, CAR_URL, body="<h1>Forbidden</h1>", status=403, content_type="text/html")

    with pytest.raises(InventoryRejected) as raised:
        make_client().get_car(CAR_ID)

    assert raised.value.raw_code == ""
    assert raised.value.status == 403
    assert raised.value.detail == "Forbidden"


# -- answers that are not what the contract promises --------------------------------------------------------


@pytest.mark.parametrize(
    "body", ["<html>maintenance page</html>", "", "[1, 2]", '"a string"'], ids=["html", "empty", "array", "string"]
)
def test_success_without_a_json_object_is_unavailable(inventory: responses.RequestsMock, body: str) -> None:
    inventory.add(responses.GET, CAR_URL, body=body, status=200, content_type="text/html")

    with pytest.raises(InventoryUnavailable) as raised:
        make_client().get_car(CAR_ID)

    assert raised.value.status == 200


@pytest.mark.parametrize(
    "body",
    [
        {"status": "ok"},
        {**CAR_JSON, "status": "stolen"},
        {**CAR_JSON, "id": "not-a-uuid"},
        {**CAR_JSON, "created_at": "yesterday"},
    ],
    ids=["missing-fields", "unknown-status", "bad-id", "bad-timestamp"],
)
def test_success_with_a_malformed_car_is_unavailable(
    inventory: responses.RequestsMock, body: dict[str, object]
) -> None:
    # A misrouted gateway or a contract drift must surface as the typed error booking handles, not a KeyError.
    inventory.add(responses.GET, CAR_URL, json=body)

    with pytest.raises(InventoryUnavailable):
        make_client().get_car(CAR_ID)


def test_success_with_a_reservation_lacking_its_start_is_unavailable(inventory: responses.RequestsMock) -> None:
    inventory.add(responses.POST, RESERVE_URL, json={**RESERVATION_JSON, "started_at": None}, status=201)

    with pytest.raises(InventoryUnavailable):
        make_client().reserve(reservation_id=RESERVATION_ID, car_id=CAR_ID)


# -- what every request carries -----------------------------------------------------------------------------


def test_every_request_carries_the_token_a_request_id_and_both_timeouts(inventory: responses.RequestsMock) -> None:
    inventory.add(responses.GET, CAR_URL, json=CAR_JSON)
    inventory.add(responses.POST, RESERVE_URL, json=RESERVATION_JSON, status=201)
    inventory.add(responses.GET, f"{BASE}/api/v1/reservations/{RESERVATION_ID}/", json=RESERVATION_JSON)
    inventory.add(responses.POST, f"{BASE}/api/v1/reservations/{RESERVATION_ID}/release/", json=RESERVATION_JSON)
    inventory.add(responses.GET, f"{BASE}/api/v1/cars/", json={"count": 0, "results": []})
    client = make_client(connect_timeout=0.7, read_timeout=2.5)

    client.get_car(CAR_ID)
    client.reserve(reservation_id=RESERVATION_ID, car_id=CAR_ID)
    client.get_reservation(RESERVATION_ID)
    client.release(RESERVATION_ID)
    client.list_cars()

    assert len(inventory.calls) == 5
    request_ids = set()
    for call in inventory.calls:
        assert call.request.headers["Authorization"] == "Token service-token-123"
        assert call.request.headers["X-Request-ID"]
        assert call.request.req_kwargs["timeout"] == (0.7, 2.5)
        request_ids.add(call.request.headers["X-Request-ID"])
    assert len(request_ids) == 5  # a fresh id per call when none is given


def test_request_id_comes_from_the_callable_when_given(inventory: responses.RequestsMock) -> None:
    inventory.add(responses.GET, CAR_URL, json=CAR_JSON)

    make_client(request_id=lambda: "gw-req-42").get_car(CAR_ID)

    assert inventory.calls[0].request.headers["X-Request-ID"] == "gw-req-42"


def test_request_id_is_generated_when_the_callable_has_none(inventory: responses.RequestsMock) -> None:
    inventory.add(responses.GET, CAR_URL, json=CAR_JSON)

    make_client(request_id=lambda: None).get_car(CAR_ID)

    assert len(inventory.calls[0].request.headers["X-Request-ID"]) == 32


def test_retries_of_one_call_share_its_request_id(inventory: responses.RequestsMock, no_sleep: list[float]) -> None:
    inventory.add(responses.GET, CAR_URL, status=502)
    inventory.add(responses.GET, CAR_URL, status=502)
    inventory.add(responses.GET, CAR_URL, json=CAR_JSON)

    make_client(retries=2).get_car(CAR_ID)

    assert len({call.request.headers["X-Request-ID"] for call in inventory.calls}) == 1
    assert len(inventory.calls) == 3


def test_no_authorization_header_without_a_token(inventory: responses.RequestsMock) -> None:
    inventory.add(responses.GET, CAR_URL, json=CAR_JSON)

    InventoryClient(BASE).get_car(CAR_ID)

    assert "Authorization" not in inventory.calls[0].request.headers


def test_reserve_and_release_send_the_contract_paths_and_bodies(inventory: responses.RequestsMock) -> None:
    release_url = f"{BASE}/api/v1/reservations/{RESERVATION_ID}/release/"
    inventory.add(responses.POST, RESERVE_URL, json=RESERVATION_JSON, status=201)
    inventory.add(responses.POST, release_url, json={**RESERVATION_JSON, "state": "released"})
    client = InventoryClient(BASE + "/", "t")  # a trailing slash on the base URL is harmless

    client.reserve(reservation_id=uuid.UUID(RESERVATION_ID), car_id=uuid.UUID(CAR_ID))
    released = client.release(uuid.UUID(RESERVATION_ID))

    assert [call.request.url for call in inventory.calls] == [RESERVE_URL, release_url]
    assert json.loads(inventory.calls[0].request.body) == {"id": RESERVATION_ID, "car_id": CAR_ID}
    assert released.state is ReservationState.RELEASED


def test_list_cars_sends_only_the_filters_given(inventory: responses.RequestsMock) -> None:
    inventory.add(responses.GET, f"{BASE}/api/v1/cars/", json={"count": 0, "results": []})

    make_client().list_cars(status="maintenance", model="golf", limit=5, offset=10, ordering="-year")

    query = parse_qs(urlsplit(inventory.calls[0].request.url).query)
    assert query == {
        "status": ["maintenance"],
        "model": ["golf"],
        "limit": ["5"],
        "offset": ["10"],
        "ordering": ["-year"],
    }


# -- the observer -------------------------------------------------------------------------------------------


def test_observer_is_called_once_per_attempt_with_operation_duration_and_outcome(
    inventory: responses.RequestsMock, no_sleep: list[float]
) -> None:
    seen: list[tuple[str, float, str]] = []
    inventory.add(responses.POST, RESERVE_URL, body=requests.exceptions.ConnectTimeout())
    inventory.add(responses.POST, RESERVE_URL, status=503)
    inventory.add(responses.POST, RESERVE_URL, json=problem(409, "car_unavailable"), status=409, content_type=PROBLEM)

    with pytest.raises(CarUnavailable):
        make_client(retries=3, observer=lambda *args: seen.append(args)).reserve(
            reservation_id=RESERVATION_ID, car_id=CAR_ID
        )

    assert [(operation, outcome) for operation, _, outcome in seen] == [
        ("reserve", "unreachable"),
        ("reserve", "503"),
        ("reserve", "409"),
    ]
    assert all(isinstance(seconds, float) and seconds >= 0 for _, seconds, _ in seen)


def test_observer_sees_every_exhausted_attempt(inventory: responses.RequestsMock, no_sleep: list[float]) -> None:
    seen: list[str] = []
    inventory.add(responses.GET, CAR_URL, status=504)

    with pytest.raises(InventoryUnavailable):
        make_client(retries=2, observer=lambda op, sec, outcome: seen.append(f"{op}:{outcome}")).get_car(CAR_ID)

    assert seen == ["get_car:504"] * 3
