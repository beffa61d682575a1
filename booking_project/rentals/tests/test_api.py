"""The rental API over HTTP (DRF test client), against a real inventory where the car matters."""

import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from customers import services as customer_services
from customers.tests.factories import CustomerFactory
from rentals.idempotency import idempotency_fingerprint
from rentals.models import IdempotencyKey, IdempotencyState, OutboxMessage, Rental, RentalStatus
from rentals.serializers import rental_create_canonical

URL = "/api/v1/rentals/"
PROBLEM = "application/problem+json"
RENTAL_FIELDS = {
    "id",
    "car_id",
    "customer_id",
    "status",
    "started_at",
    "expected_return_at",
    "ended_at",
    "failure_code",
}


def _start(client, car_id, customer_id, key=None, **extra):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    body = {"car_id": str(car_id), "customer_id": str(customer_id), **extra}
    return client.post(URL, body, format="json", **headers)


# -- who may call --------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_anonymous_callers_get_401_problem(anon):
    for answer in (anon.get(URL), anon.post(URL, {}, format="json"), anon.post(f"{URL}{uuid.uuid4()}/end/")):
        assert answer.status_code == 401
        assert answer["Content-Type"] == PROBLEM


@pytest.mark.django_db
def test_non_staff_get_403(plain_user_client):
    assert plain_user_client.get(URL).json()["code"] == "permission_denied"


# -- start ---------------------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_start_answers_201_with_the_active_rental(inventory, staff, customer):
    car_id = inventory.make_car()
    expected = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    answer = _start(staff, car_id, customer.id, expected_return_at=expected.isoformat())
    assert answer.status_code == 201, answer.json()
    data = answer.json()
    assert set(data) >= RENTAL_FIELDS  # v1's fields, all there (v2 adds its own, and removes none)
    assert (data["car_id"], data["customer_id"], data["status"]) == (str(car_id), str(customer.id), "active")
    assert data["started_at"] and data["ended_at"] is None and data["failure_code"] is None
    assert data["expected_return_at"].startswith(expected.strftime("%Y-%m-%dT%H:%M:%S"))
    assert inventory.car_status(car_id) == "rented"


@pytest.mark.django_db(transaction=True)
def test_start_errors_are_problems_with_their_codes(inventory, staff, customer):
    car_id = inventory.make_car()
    assert _start(staff, car_id, customer.id).status_code == 201
    cases = [
        (_start(staff, car_id, customer.id), 409, "car_unavailable"),
        (_start(staff, uuid.uuid4(), customer.id), 422, "car_not_found"),
        (_start(staff, inventory.make_car(), uuid.uuid4()), 422, "customer_not_found"),
    ]
    inactive = CustomerFactory()
    customer_services.customer_deactivate(customer_id=inactive.id)
    cases.append((_start(staff, inventory.make_car(), inactive.id), 422, "customer_inactive"))
    for answer, status, code in cases:
        assert answer.status_code == status, answer.json()
        assert answer["Content-Type"] == PROBLEM
        assert answer.json()["code"] == code


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"car_id": "not-a-uuid", "customer_id": str(uuid.uuid4())},
        {"car_id": str(uuid.uuid4())},
        {"car_id": str(uuid.uuid4()), "customer_id": str(uuid.uuid4()), "expected_return_at": "tomorrow"},
        {"car_id": 12, "customer_id": ["x"]},
        ["not", "an", "object"],
    ],
)
def test_invalid_start_bodies_are_400(staff, body):
    answer = staff.post(URL, body, format="json")
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid"
    assert not Rental.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_expected_return_in_the_past_is_400(inventory_down, staff, customer):
    past = (timezone.now() - timedelta(hours=1)).isoformat()
    answer = _start(staff, uuid.uuid4(), customer.id, expected_return_at=past)
    assert answer.status_code == 400
    assert "expected_return_at" in answer.json()["errors"]


@pytest.mark.django_db
def test_malformed_json_is_400(staff):
    answer = staff.generic("POST", URL, '{"car_id": ', content_type="application/json")
    assert answer.status_code == 400 and answer.json()["code"] == "parse_error"


@pytest.mark.django_db(transaction=True)
def test_inventory_down_answers_503_with_retry_after_fast(inventory_down, staff, customer):
    began = time.monotonic()
    answer = _start(staff, uuid.uuid4(), customer.id)
    elapsed = time.monotonic() - began
    assert answer.status_code == 503
    assert answer["Content-Type"] == PROBLEM and answer.json()["code"] == "inventory_unavailable"
    assert int(answer["Retry-After"]) > 0
    assert elapsed < 2.0
    rental = Rental.objects.get()
    assert rental.status == RentalStatus.FAILED
    assert OutboxMessage.objects.get().reservation_id == rental.id


# -- read ----------------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_list_filters_by_status_car_and_customer(staff):
    ada, bob = CustomerFactory(), CustomerFactory()
    car = uuid.uuid4()
    now = timezone.now()
    Rental.objects.create(car_id=car, customer=ada, status=RentalStatus.ACTIVE, started_at=now)
    Rental.objects.create(car_id=car, customer=bob, status=RentalStatus.FAILED, failure_code="car_unavailable")
    Rental.objects.create(car_id=uuid.uuid4(), customer=bob, status=RentalStatus.ACTIVE, started_at=now)

    def ids(**params):
        answer = staff.get(URL, params)
        assert answer.status_code == 200
        return answer.json()["count"]

    assert ids() == 3
    assert ids(status="active") == 2
    assert ids(car_id=str(car)) == 2
    assert ids(customer_id=str(bob.id)) == 2
    assert ids(customer_id=str(bob.id), status="failed", car_id=str(car)) == 1
    for bad in ({"status": "lost"}, {"car_id": "nope"}, {"customer_id": "1"}):
        answer = staff.get(URL, bad)
        assert answer.status_code == 400 and answer.json()["code"] == "invalid"


@pytest.mark.django_db
def test_get_one_and_404s(staff, customer):
    rental = Rental.objects.create(car_id=uuid.uuid4(), customer=customer)
    assert staff.get(f"{URL}{rental.id}/").json()["status"] == "pending"
    for missing in (uuid.uuid4(), "garbage"):
        answer = staff.get(f"{URL}{missing}/")
        assert answer.status_code == 404 and answer.json()["code"] == "rental_not_found"


# -- end -----------------------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_end_answers_200_and_again_200_unchanged(inventory, staff, customer):
    rental = _start(staff, inventory.make_car(), customer.id).json()
    first = staff.post(f"{URL}{rental['id']}/end/", {}, format="json")
    assert first.status_code == 200
    assert first.json()["status"] == "completed" and first.json()["ended_at"]
    again = staff.post(f"{URL}{rental['id']}/end/", {}, format="json")
    assert again.status_code == 200 and again.json() == first.json()
    assert OutboxMessage.objects.filter(reservation_id=rental["id"]).count() == 1


@pytest.mark.django_db(transaction=True)
def test_end_works_while_inventory_is_down(inventory_down, staff, customer):
    rental = Rental.objects.create(
        car_id=uuid.uuid4(), customer=customer, status=RentalStatus.ACTIVE, started_at=timezone.now()
    )
    answer = staff.post(f"{URL}{rental.id}/end/", {}, format="json")
    assert answer.status_code == 200 and answer.json()["status"] == "completed"


@pytest.mark.django_db
def test_ending_a_pending_or_failed_rental_is_409_and_unknown_is_404(staff, customer):
    for status, code in ((RentalStatus.PENDING, None), (RentalStatus.FAILED, "car_unavailable")):
        rental = Rental.objects.create(car_id=uuid.uuid4(), customer=customer, status=status, failure_code=code)
        answer = staff.post(f"{URL}{rental.id}/end/", {}, format="json")
        assert answer.status_code == 409 and answer.json()["code"] == "rental_not_active"
    assert staff.post(f"{URL}{uuid.uuid4()}/end/").json()["code"] == "rental_not_found"


# -- Idempotency-Key -----------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_same_key_same_body_replays_the_first_answer(inventory, staff, customer):
    car_id = inventory.make_car()
    first = _start(staff, car_id, customer.id, key="start-1")
    again = _start(staff, car_id, customer.id, key="start-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Rental.objects.count() == 1
    key = IdempotencyKey.objects.get()
    assert (key.state, key.response_status, str(key.rental_id)) == (IdempotencyState.COMPLETED, 201, first.json()["id"])


@pytest.mark.django_db(transaction=True)
def test_a_replayed_refusal_is_the_same_problem(inventory, staff, customer):
    car_id = inventory.make_car()
    _start(staff, car_id, customer.id)
    first = _start(staff, car_id, customer.id, key="taken-car")
    again = _start(staff, car_id, customer.id, key="taken-car")
    assert first.status_code == again.status_code == 409
    assert again.json() == first.json()
    assert again["Content-Type"] == PROBLEM and again["Idempotent-Replayed"] == "true"
    assert Rental.objects.filter(status=RentalStatus.FAILED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_same_key_other_body_is_422_reused(inventory, staff, customer):
    _start(staff, inventory.make_car(), customer.id, key="k-1")
    answer = _start(staff, inventory.make_car(), customer.id, key="k-1")
    assert answer.status_code == 422 and answer.json()["code"] == "idempotency_key_reused"
    assert Rental.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_key_from_another_user_is_another_request(inventory, staff, customer):
    car_id = inventory.make_car()
    _start(staff, car_id, customer.id, key="shared")
    other = APIClient()
    from django.contrib.auth.models import User

    user = User.objects.create_user("other-desk", is_staff=True)
    other.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    assert _start(other, car_id, customer.id, key="shared").json()["code"] == "idempotency_key_reused"


@pytest.mark.django_db(transaction=True)
def test_equivalent_spellings_of_a_body_are_the_same_request(inventory, staff, customer):
    car_id = inventory.make_car()
    when = timezone.now() + timedelta(days=1)
    first = _start(staff, car_id, customer.id, key="spelling", expected_return_at=when.isoformat())
    again = staff.post(
        URL,
        {
            "customer_id": str(customer.id).upper(),
            "car_id": str(car_id),
            "note": "ignored",
            "expected_return_at": when.astimezone(timezone.get_fixed_timezone(120)).isoformat(),
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="spelling",
    )
    assert again.status_code == 201 and again.json() == first.json()


@pytest.mark.django_db(transaction=True)
def test_a_key_still_running_is_409_in_use(staff, customer, staff_user):
    body = {"car_id": str(uuid.uuid4()), "customer_id": str(customer.id), "expected_return_at": None}
    rental = Rental.objects.create(car_id=body["car_id"], customer=customer)
    fingerprint = idempotency_fingerprint(
        body=rental_create_canonical(
            {"car_id": uuid.UUID(body["car_id"]), "customer_id": customer.id, "expected_return_at": None}
        ),
        user_id=staff_user.pk,
    )
    IdempotencyKey.objects.create(key="running", fingerprint=fingerprint, rental=rental)
    answer = staff.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="running")
    assert answer.status_code == 409 and answer.json()["code"] == "idempotency_key_in_use"


@pytest.mark.django_db(transaction=True)
def test_a_503_is_not_kept_and_retrying_with_the_key_carries_on_with_the_same_rental(
    point_inventory, inventory_down, live_inventory, staff, customer
):
    car_id = live_inventory.make_car()
    first = _start(staff, car_id, customer.id, key="retry-me")
    assert first.status_code == 503
    key = IdempotencyKey.objects.get()
    assert (key.state, key.response_status) == ("retryable", None)  # no answer kept; the rental kept
    point_inventory(live_inventory.url, live_inventory.service_token)
    answer = _start(staff, car_id, customer.id, key="retry-me")
    assert answer.status_code == 201 and "Idempotent-Replayed" not in answer
    assert answer.json()["id"] == str(key.rental_id)  # reserved with the first attempt's id
    assert Rental.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_expired_key_is_ignored(inventory, staff, customer):
    _start(staff, inventory.make_car(), customer.id, key="old")
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    answer = _start(staff, inventory.make_car(), customer.id, key="old")
    assert answer.status_code == 201 and "Idempotent-Replayed" not in answer
    assert Rental.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "naïve"])
def test_a_malformed_key_is_400(staff, customer, key):
    answer = _start(staff, uuid.uuid4(), customer.id, key=key)
    assert answer.status_code == 400 and "Idempotency-Key" in answer.json()["errors"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_create_exactly_one_rental(inventory, staff_user, customer):
    car_id = inventory.make_car()
    token = Token.objects.create(user=staff_user).key
    barrier = threading.Barrier(12)
    answers: list = []

    def send() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        barrier.wait()
        try:
            answers.append(_start(client, car_id, customer.id, key="double-click"))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {201, 409}, statuses
    assert 201 in statuses
    assert all(a.json()["code"] == "idempotency_key_in_use" for a in answers if a.status_code == 409)
    assert len({a.json()["id"] for a in answers if a.status_code == 201}) == 1
    assert Rental.objects.count() == 1 and Rental.objects.get().status == RentalStatus.ACTIVE
    assert inventory.car_status(car_id) == "rented"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "ids",
    [{"car_id": 12}, {"car_id": True}, {"customer_id": 1}, {"customer_id": False}, {"car_id": 2**100}],
    ids=["car-int", "car-bool", "customer-int", "customer-bool", "car-big-int"],
)
def test_ids_are_uuid_strings_not_numbers_or_booleans(staff, customer, ids):
    answer = staff.post(URL, {"car_id": str(uuid.uuid4()), "customer_id": str(customer.id), **ids}, format="json")
    assert answer.status_code == 400, answer.json()
    assert answer.json()["code"] == "invalid" and set(ids) <= set(answer.json()["errors"])
    assert not Rental.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("ordering", ["started_at", "-ended_at", "expected_return_at", "-created_at"])
def test_pages_ordered_by_a_shared_value_neither_skip_nor_repeat_rentals(staff, customer, ordering):
    created_at = timezone.now()
    Rental.objects.bulk_create([Rental(car_id=uuid.uuid4(), customer=customer) for _ in range(120)])
    Rental.objects.update(created_at=created_at)  # every sort key ties
    seen: list[str] = []
    for offset in range(0, 120, 7):
        page = staff.get(URL, {"ordering": ordering, "limit": 7, "offset": offset})
        assert page.status_code == 200
        seen += [row["id"] for row in page.json()["results"]]
    assert len(seen) == 120 and len(set(seen)) == 120


@pytest.mark.django_db
def test_the_rental_list_costs_the_same_queries_for_one_row_or_a_full_page(
    staff, customer, django_assert_max_num_queries
):
    Rental.objects.create(car_id=uuid.uuid4(), customer=customer)
    with django_assert_max_num_queries(3):  # token, count, page
        assert staff.get(URL).status_code == 200
    for other in CustomerFactory.create_batch(40):
        Rental.objects.create(car_id=uuid.uuid4(), customer=other)
    with django_assert_max_num_queries(3):
        assert len(staff.get(URL, {"limit": 200}).json()["results"]) == 41


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_ends_complete_once_and_queue_one_release(staff_user, customer):
    rental = Rental.objects.create(
        car_id=uuid.uuid4(), customer=customer, status=RentalStatus.ACTIVE, started_at=timezone.now()
    )
    token = Token.objects.create(user=staff_user).key
    barrier = threading.Barrier(8)
    answers: list = []

    def end() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        barrier.wait()
        try:
            answers.append(client.post(f"{URL}{rental.id}/end/", {}, format="json"))
        finally:
            connection.close()

    threads = [threading.Thread(target=end) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [200] * 8
    assert len({a.json()["ended_at"] for a in answers}) == 1  # one end; the others answered it unchanged
    assert OutboxMessage.objects.filter(reservation_id=rental.id).count() == 1
