"""The hot path's query budget: taking and releasing a car must not grow unnoticed.

Counted as the load test runs them: a warm token cache (the booking service's token is used all day long)."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from drivenow_contracts.server.auth import token_cache
from drivenow_contracts.testing import statement_labels
from fleet.models import Car, CarStatus
from fleet.tests.factories import CarFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def warm_service(settings, service):
    settings.DRIVENOW_TOKEN_CACHE_SECONDS = 30
    token_cache.clear()
    assert service.get(f"/api/v1/reservations/{uuid.uuid4()}/").status_code == 404  # caches token and permissions
    yield service
    token_cache.clear()


def _statements(call) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = call()
    return response.status_code, statement_labels(queries.captured_queries)


def test_post_reservation_is_one_statement(warm_service):
    car = CarFactory()
    status, statements = _statements(
        lambda: warm_service.post(
            "/api/v1/reservations/", {"id": str(uuid.uuid4()), "car_id": str(car.id)}, format="json"
        )
    )
    assert status == 201
    # take the car if it is available (lock, check and mark rented in one UPDATE) and insert the hold: one WITH
    assert statements == ["WITH"]


def test_release_is_one_statement(warm_service):
    car = CarFactory()
    rid = str(uuid.uuid4())
    warm_service.post("/api/v1/reservations/", {"id": rid, "car_id": str(car.id)}, format="json")
    status, statements = _statements(lambda: warm_service.post(f"/api/v1/reservations/{rid}/release/"))
    assert status == 200
    # end the active hold and free its car: one UPDATE … RETURNING with a second UPDATE in the same statement
    assert statements == ["WITH"]
    assert Car.objects.get(id=car.id).status == CarStatus.AVAILABLE
    status, statements = _statements(lambda: warm_service.post(f"/api/v1/reservations/{rid}/release/"))
    assert status == 200 and statements == ["WITH", "SELECT fleet_reservation"]  # nothing to end: answer it again


def test_car_list_takes_two_statements_whatever_the_page_size(anon):
    for _ in range(30):
        CarFactory()
    for limit in (1, 30):
        status, statements = _statements(lambda limit=limit: anon.get(f"/api/v1/cars/?status=available&limit={limit}"))
        assert status == 200 and statements == ["SELECT fleet_car", "SELECT fleet_car"]  # count, page
