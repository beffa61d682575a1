"""The per-process token cache: verified tokens skip the token and permission queries, for a bounded time."""

import time
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from drivenow_contracts.server.auth import token_cache
from fleet.tests.factories import CarFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def cache_on(settings):
    settings.DRIVENOW_TOKEN_CACHE_SECONDS = 30
    token_cache.clear()
    yield
    token_cache.clear()


def _auth_queries(call) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = call()
    assert response.status_code < 300, response.content
    return [q["sql"] for q in queries.captured_queries if "authtoken" in q["sql"] or "permission" in q["sql"]]


def test_a_known_token_costs_no_auth_or_permission_queries_the_second_time(service):
    car_ids = [CarFactory().id, CarFactory().id]

    def reserve(car_id):
        return lambda: service.post(
            "/api/v1/reservations/", {"id": str(uuid.uuid4()), "car_id": str(car_id)}, format="json"
        )

    assert len(_auth_queries(reserve(car_ids[0]))) >= 2  # token, then user and group permissions
    assert _auth_queries(reserve(car_ids[1])) == []


def test_unknown_tokens_are_not_cached_and_stay_refused(anon):
    anon.credentials(HTTP_AUTHORIZATION="Token " + "f" * 40)
    for _ in range(2):
        assert anon.post("/api/v1/cars/", {}, format="json").status_code == 401


def test_a_deleted_token_stops_working_once_its_entry_expires(settings, staff, staff_user):
    settings.DRIVENOW_TOKEN_CACHE_SECONDS = 0.3
    body = {"model": "Cached", "year": 2020}
    assert staff.post("/api/v1/cars/", body, format="json").status_code == 201
    Token.objects.filter(user=staff_user).delete()
    assert staff.post("/api/v1/cars/", body, format="json").status_code == 201  # still cached: the bounded delay
    time.sleep(0.35)
    assert staff.post("/api/v1/cars/", body, format="json").status_code == 401
