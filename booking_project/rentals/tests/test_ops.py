"""Operations: the OpenAPI schema, health, metrics, and the admin back office."""

import threading
import time
import uuid
from datetime import timedelta

import pytest
import responses
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.models import Customer
from customers.tests.factories import CustomerFactory
from rentals.models import IdempotencyKey, OutboxMessage, OutboxStatus, Rental, RentalStatus


def test_the_schema_generates_and_validates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    schema = (tmp_path / "schema.yaml").read_text()
    for path in ("/api/v1/rentals/{id}/end/", "/api/v1/customers/{id}/deactivate/", "Idempotency-Key"):
        assert path in schema


@pytest.mark.django_db
def test_docs_are_served_without_a_cdn(client):
    for path in ("/docs", "/redoc", "/schema"):
        answer = client.get(path)
        assert answer.status_code == 200, path
    assert b"cdn" not in client.get("/docs").content.lower()


@pytest.mark.django_db
def test_health_ready_reports_inventory_but_is_not_failed_by_it(client, inventory_down):
    assert client.get("/health/live").json() == {"status": "ok"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == "ok"
    assert ready.json()["checks"]["inventory"].startswith("unavailable")


@pytest.mark.django_db
def test_health_ready_says_ok_when_inventory_is(client, inventory):
    assert client.get("/health/ready").json()["checks"]["inventory"] == "ok"


@pytest.mark.django_db(transaction=True)
def test_health_ready_asks_inventory_at_most_once_per_cache_window(client, point_inventory, settings):
    # The probe is public and unthrottled: without the cache every hit would be a call to inventory.
    settings.DRIVENOW_READY_REPORTS_CACHE_SECONDS = 2.0
    point_inventory("http://inventory.invalid", "any-token")
    with responses.RequestsMock() as inventory:
        ready = inventory.get("http://inventory.invalid/health/ready", json={"status": "ok"})
        answers = [client.get("/health/ready") for _ in range(20)]

        def hit() -> None:
            try:
                answers.append(Client().get("/health/ready"))
            finally:
                connection.close()

        threads = [threading.Thread(target=hit) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert ready.call_count == 1
        assert all(a.status_code == 200 and a.json()["checks"]["inventory"] == "ok" for a in answers)

        time.sleep(2.1)  # the window is over: the next hit asks again, once
        for _ in range(5):
            client.get("/health/ready")
        assert ready.call_count == 2


@pytest.mark.django_db
def test_metrics_expose_the_outbox_backlog(client):
    OutboxMessage.objects.create(reservation_id=uuid.uuid4(), created_at=timezone.now() - timedelta(seconds=90))
    OutboxMessage.objects.create(reservation_id=uuid.uuid4(), status=OutboxStatus.DEAD)
    text = client.get("/metrics").content.decode()
    lines = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert float(lines["booking_outbox_pending"]) == 1
    assert float(lines["booking_outbox_dead"]) == 1
    assert 89 <= float(lines["booking_outbox_oldest_pending_age_seconds"]) < 200
    assert "booking_rentals_started_total" in text and "booking_inventory_client_seconds" in text


# -- admin ---------------------------------------------------------------------------------------------------
@pytest.fixture
def admin_client(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("boss", password="pw-boss-123456"))
    return client


@pytest.mark.django_db
def test_admin_lists_rentals_customers_outbox_and_keys(admin_client, customer):
    rental = Rental.objects.create(
        car_id=uuid.uuid4(), customer=customer, status=RentalStatus.FAILED, failure_code="car_unavailable"
    )
    OutboxMessage.objects.create(reservation_id=rental.id)
    IdempotencyKey.objects.create(key="k", fingerprint="f" * 64, rental=rental)
    pages = [
        "/admin/rentals/rental/",
        f"/admin/rentals/rental/?status=failed&car_id={rental.car_id}&customer__id__exact={customer.id}",
        f"/admin/rentals/rental/?q={rental.car_id}",
        f"/admin/rentals/rental/{rental.id}/change/",
        "/admin/rentals/outboxmessage/?status__exact=pending",
        "/admin/rentals/idempotencykey/",
        "/admin/customers/customer/?q=example.com",
        f"/admin/customers/customer/{customer.id}/change/",
    ]
    for page in pages:
        answer = admin_client.get(page)
        assert answer.status_code == 200, page
    listing = admin_client.get("/admin/rentals/rental/?status=failed").content.decode()
    assert "car_unavailable" in listing or "Car unavailable" in listing


@pytest.mark.django_db
def test_admin_retry_now_makes_dead_messages_due(admin_client):
    dead = OutboxMessage.objects.create(
        reservation_id=uuid.uuid4(), status=OutboxStatus.DEAD, next_attempt_at=timezone.now() + timedelta(hours=1)
    )
    answer = admin_client.post(
        "/admin/rentals/outboxmessage/", {"action": "retry_now", "_selected_action": [dead.id]}, follow=True
    )
    assert answer.status_code == 200
    dead.refresh_from_db()
    assert dead.status == OutboxStatus.PENDING and dead.next_attempt_at <= timezone.now()


@pytest.mark.django_db(transaction=True)
def test_admin_ends_active_rentals_through_the_service(admin_client, customer):
    rental = Rental.objects.create(
        car_id=uuid.uuid4(), customer=customer, status=RentalStatus.ACTIVE, started_at=timezone.now()
    )
    admin_client.post("/admin/rentals/rental/", {"action": "end_rentals", "_selected_action": [rental.id]})
    rental.refresh_from_db()
    assert rental.status == RentalStatus.COMPLETED
    assert OutboxMessage.objects.get().reservation_id == rental.id


@pytest.mark.django_db
def test_admin_creates_edits_and_refuses_duplicate_customers(admin_client):
    CustomerFactory(email="taken@example.com")
    answer = admin_client.post(
        "/admin/customers/customer/add/",
        {
            "name": "Dup",
            "email": "TAKEN@example.com",
            "phone": "",
            "driver_licence": "",
        },
    )
    assert answer.status_code == 200 and "already has this email" in answer.content.decode()
    admin_client.post(
        "/admin/customers/customer/add/",
        {
            "name": "New",
            "email": "new@Example.com",
            "phone": "",
            "driver_licence": "",
        },
    )
    assert Customer.objects.get(name="New").email == "new@example.com"


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["car_id=garbage", "car_id=%00", "customer_id=garbage", "customer_id=12"])
def test_admin_rental_list_with_a_malformed_id_filter_is_refused_not_a_500(admin_client, customer, query):
    Rental.objects.create(car_id=uuid.uuid4(), customer=customer)  # filters without choices are not applied
    answer = admin_client.get(f"/admin/rentals/rental/?{query}")
    assert answer.status_code == 302 and answer["Location"].endswith("?e=1")  # Django's "bad lookup" page


@pytest.mark.django_db
def test_admin_customer_filter_offers_recent_customers_only_yet_filters_by_any(admin_client):
    oldest = CustomerFactory()
    Rental.objects.create(car_id=uuid.uuid4(), customer=oldest)
    for customer in CustomerFactory.create_batch(60):
        Rental.objects.create(car_id=uuid.uuid4(), customer=customer)
    changelist = admin_client.get("/admin/rentals/rental/").context["cl"]
    (customer_filter,) = [spec for spec in changelist.filter_specs if spec.title == "customer"]
    choices = list(customer_filter.choices(changelist))
    assert len(choices) <= 51  # "All" and at most 50 customers, however many have rented
    assert str(oldest.id) not in "".join(str(choice["query_string"]) for choice in choices)
    answer = admin_client.get(f"/admin/rentals/rental/?customer_id={oldest.id}")
    assert answer.status_code == 200 and answer.context["cl"].result_count == 1


@pytest.mark.django_db
def test_admin_idempotency_key_list_does_not_query_per_row(admin_client, customer, django_assert_max_num_queries):
    def key(name: str) -> None:
        rental = Rental.objects.create(car_id=uuid.uuid4(), customer=customer)
        IdempotencyKey.objects.create(key=name, fingerprint="f" * 64, rental=rental)

    key("first")
    with CaptureQueriesContext(connection) as one_row:
        assert admin_client.get("/admin/rentals/idempotencykey/").status_code == 200
    for index in range(30):
        key(f"more-{index}")
    with django_assert_max_num_queries(len(one_row)):
        assert admin_client.get("/admin/rentals/idempotencykey/").status_code == 200


@pytest.mark.django_db
def test_admin_shows_a_deactivated_customer_read_only_and_refuses_to_save_it(admin_client, customer):
    from customers import services as customer_services

    customer_services.customer_deactivate(customer_id=customer.id)
    page = admin_client.get(f"/admin/customers/customer/{customer.id}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    saved = admin_client.post(f"/admin/customers/customer/{customer.id}/change/", {"_save": "Save"})
    assert saved.status_code == 403
    customer.refresh_from_db()
    assert customer.status == "deactivated" and customer.email == ""


@pytest.mark.django_db
@pytest.mark.parametrize(
    "page",
    [
        "/admin/customers/customer/?status=%00",
        "/admin/rentals/rental/?status__exact=%00",
        "/admin/rentals/outboxmessage/?kind__exact=%00",
        "/admin/rentals/idempotencykey/?state__exact=%00",
    ],
)
def test_admin_list_filter_values_with_a_nul_are_refused_not_a_500(admin_client, customer, page):
    rental = Rental.objects.create(car_id=uuid.uuid4(), customer=customer)
    OutboxMessage.objects.create(reservation_id=rental.id)
    IdempotencyKey.objects.create(key="k", fingerprint="f" * 64, rental=rental)
    answer = admin_client.get(page)
    assert answer.status_code == 302 and answer["Location"].endswith("?e=1")


@pytest.mark.django_db
@pytest.mark.parametrize("view", ["change", "history", "delete"])
def test_admin_idempotency_key_page_with_a_nul_in_its_key_is_not_found_not_a_500(admin_client, view):
    answer = admin_client.get(f"/admin/rentals/idempotencykey/bad%00key/{view}/")
    assert answer.status_code in (302, 403, 404)
