"""The hot path's query budget: POST /rentals/ and POST /rentals/{id}/end/ must not grow unnoticed.

Counted as in production: a warm token cache (front-desk tokens are used all day long)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from drivenow_contracts.server.auth import token_cache
from drivenow_contracts.testing import statement_labels
from rentals.models import OutboxMessage

pytestmark = pytest.mark.django_db(transaction=True)


def _statements(call):
    with CaptureQueriesContext(connection) as queries:
        response = call()
    return response, statement_labels(queries.captured_queries)


@pytest.fixture
def warm_staff(settings, staff):
    settings.DRIVENOW_TOKEN_CACHE_SECONDS = 30
    token_cache.clear()
    assert staff.get("/api/v1/rentals/?limit=1").status_code == 200
    yield staff
    token_cache.clear()


def test_start_and_end_stay_within_their_statement_budget(warm_staff, customer, inventory):
    car_id = inventory.make_car()
    response, statements = _statements(
        lambda: warm_staff.post(
            "/api/v1/rentals/", {"car_id": str(car_id), "customer_id": str(customer.id)}, format="json"
        )
    )
    assert response.status_code == 201, response.content
    assert statements == [
        "INSERT rentals_rental",  # pending, before inventory: inserted only for an active customer, row locked
        "UPDATE rentals_rental",  # active, after inventory: pending → active in one conditional UPDATE
    ]

    response, statements = _statements(lambda: warm_staff.post(f"/api/v1/rentals/{response.json()['id']}/end/"))
    assert response.status_code == 200 and response.json()["status"] == "completed"
    # completed + the release queued in the outbox (leased to this request) + NOTIFY: one statement, one
    # transaction; then the release delivered at once and recorded
    assert statements == ["WITH", "UPDATE rentals_outboxmessage"]
    assert OutboxMessage.objects.filter(reservation_id=response.json()["id"], status="delivered").count() == 1

    response, statements = _statements(lambda: warm_staff.post(f"/api/v1/rentals/{response.json()['id']}/end/"))
    assert response.status_code == 200 and response.json()["status"] == "completed"
    assert statements == ["WITH", "SELECT rentals_rental"]  # ended already: read and answered unchanged
    assert OutboxMessage.objects.filter(reservation_id=response.json()["id"]).count() == 1


def test_a_keyed_start_adds_only_the_key_claim_and_its_answer(warm_staff, customer, inventory):
    car_id = inventory.make_car()
    response, statements = _statements(
        lambda: warm_staff.post(
            "/api/v1/rentals/",
            {"car_id": str(car_id), "customer_id": str(customer.id)},
            format="json",
            HTTP_IDEMPOTENCY_KEY="budget-key",
        )
    )
    assert response.status_code == 201, response.content
    assert statements == [
        "BEGIN",
        "DELETE rentals_idempotencykey",
        "SAVEPOINT",
        "INSERT rentals_idempotencykey",
        "RELEASE",
        "SELECT customers_customer",
        "INSERT rentals_rental",
        "COMMIT",
        # active (the one conditional UPDATE that activates) and the key's answer, in one transaction
        "BEGIN",
        "UPDATE rentals_rental",
        "UPDATE rentals_idempotencykey",
        "COMMIT",
    ]
