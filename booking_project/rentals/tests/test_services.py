"""Starting and ending rentals against a real inventory (gunicorn on its own database)."""
import threading
import time
import uuid
from datetime import timedelta

import pytest
import responses
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from customers import services as customer_services
from rentals import errors, metrics, services
from rentals.models import FailureCode, OutboxMessage, OutboxStatus, Rental, RentalStatus

pytestmark = pytest.mark.django_db(transaction=True)


def _counter(counter, **labels) -> float:
    return (counter.labels(**labels) if labels else counter)._value.get()


def test_start_takes_the_car_in_inventory(inventory, customer):
    car_id = inventory.make_car()
    started_before = _counter(metrics.RENTALS_STARTED)
    rental = services.rental_start(car_id=car_id, customer_id=customer.id)
    assert rental.status == RentalStatus.ACTIVE and rental.started_at is not None
    assert inventory.car_status(car_id) == "rented"
    assert inventory.reservation_state(rental.id) == "active"  # the rental id is the reservation id
    assert _counter(metrics.RENTALS_STARTED) == started_before + 1
    assert not OutboxMessage.objects.exists()


def test_a_taken_car_fails_with_car_unavailable_and_queues_nothing(inventory, customer):
    car_id = inventory.make_car()
    services.rental_start(car_id=car_id, customer_id=customer.id)
    failed_before = _counter(metrics.RENTALS_FAILED, code="car_unavailable")
    with pytest.raises(errors.CarUnavailable):
        services.rental_start(car_id=car_id, customer_id=customer.id)
    failed = Rental.objects.get(status=RentalStatus.FAILED)
    assert failed.failure_code == FailureCode.CAR_UNAVAILABLE and failed.started_at is None
    assert _counter(metrics.RENTALS_FAILED, code="car_unavailable") == failed_before + 1
    assert not OutboxMessage.objects.exists()  # inventory said no: nothing can be held


def test_a_car_in_maintenance_is_unavailable(inventory, customer):
    with pytest.raises(errors.CarUnavailable):
        services.rental_start(car_id=inventory.make_car(status="maintenance"), customer_id=customer.id)


def test_an_unknown_car_fails_with_car_not_found(inventory, customer):
    with pytest.raises(errors.CarNotFound) as caught:
        services.rental_start(car_id=uuid.uuid4(), customer_id=customer.id)
    assert caught.value.http_status == 422
    assert Rental.objects.get().failure_code == FailureCode.CAR_NOT_FOUND
    assert not OutboxMessage.objects.exists()


def test_unknown_or_inactive_customers_store_nothing_and_never_call_inventory(inventory_down, customer):
    with pytest.raises(errors.RentalCustomerNotFound) as caught:
        services.rental_start(car_id=uuid.uuid4(), customer_id=uuid.uuid4())
    assert caught.value.http_status == 422
    customer_services.customer_deactivate(customer_id=customer.id)
    with pytest.raises(errors.RentalCustomerInactive):
        services.rental_start(car_id=uuid.uuid4(), customer_id=customer.id)
    assert not Rental.objects.exists()


def test_expected_return_must_be_in_the_future(inventory_down, customer):
    with pytest.raises(ValidationError):
        services.rental_start(
            car_id=uuid.uuid4(), customer_id=customer.id, expected_return_at=timezone.now() - timedelta(minutes=1)
        )
    assert not Rental.objects.exists()


def test_inventory_down_fails_fast_and_queues_a_release(inventory_down, customer):
    began = time.monotonic()
    with pytest.raises(errors.InventoryUnavailable):
        services.rental_start(car_id=uuid.uuid4(), customer_id=customer.id)
    assert time.monotonic() - began < 2.0
    rental = Rental.objects.get()
    assert (rental.status, rental.failure_code) == (RentalStatus.FAILED, FailureCode.INVENTORY_UNAVAILABLE)
    message = OutboxMessage.objects.get()
    assert (message.kind, message.reservation_id, message.status) == ("release", rental.id, OutboxStatus.PENDING)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, {"code": "internal_error", "detail": "boom"}),
        (400, {"code": "invalid", "detail": "no"}),
        (409, {"code": "reservation_conflict", "detail": "this id holds another car"}),
        (200, {"unexpected": "shape"}),
    ],
)
def test_any_unexpected_answer_to_reserve_is_an_unknown_outcome(point_inventory, customer, status, body):
    point_inventory("http://inventory.test", "token")
    with responses.RequestsMock() as mocked:
        mocked.add(responses.POST, "http://inventory.test/api/v1/reservations/", json=body, status=status)
        with pytest.raises(errors.InventoryUnavailable):
            services.rental_start(car_id=uuid.uuid4(), customer_id=customer.id)
    rental = Rental.objects.get()
    assert rental.failure_code == FailureCode.INVENTORY_UNAVAILABLE
    assert OutboxMessage.objects.get().reservation_id == rental.id


def test_no_transaction_may_be_open_around_the_inventory_call(inventory_down, customer):
    with pytest.raises(RuntimeError, match="transaction"), transaction.atomic():
        services.rental_start(car_id=uuid.uuid4(), customer_id=customer.id)


def test_end_completes_and_queues_the_release_in_one_transaction(inventory, customer):
    rental = services.rental_start(car_id=inventory.make_car(), customer_id=customer.id)
    ended = services.rental_end(rental_id=rental.id)
    assert ended.status == RentalStatus.COMPLETED and ended.ended_at is not None
    assert OutboxMessage.objects.get().reservation_id == rental.id
    again = services.rental_end(rental_id=rental.id)
    assert again.ended_at == ended.ended_at
    assert OutboxMessage.objects.count() == 1  # ending twice queues nothing more


def test_end_rolls_back_with_its_outbox_row(inventory, customer):
    """The database itself refuses the outbox row (a constraint no new row can meet): the rental stays active."""
    rental = services.rental_start(car_id=inventory.make_car(), customer_id=customer.id)
    table = OutboxMessage._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT test_outbox_refuses CHECK (false) NOT VALID")
    try:
        with pytest.raises(IntegrityError):
            services.rental_end(rental_id=rental.id)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT test_outbox_refuses")
    rental.refresh_from_db()
    assert rental.status == RentalStatus.ACTIVE and rental.ended_at is None  # no completed rental without its release
    assert not OutboxMessage.objects.filter(reservation_id=rental.id).exists()
    assert services.rental_end(rental_id=rental.id).status == RentalStatus.COMPLETED  # and it can end after all
    assert OutboxMessage.objects.filter(reservation_id=rental.id, status=OutboxStatus.PENDING).count() == 1


def test_only_an_active_rental_can_end(inventory_down, customer):
    with pytest.raises(errors.InventoryUnavailable):
        services.rental_start(car_id=uuid.uuid4(), customer_id=customer.id)
    failed = Rental.objects.get()
    pending = Rental.objects.create(car_id=uuid.uuid4(), customer=customer)
    for rental in (failed, pending):
        with pytest.raises(errors.RentalNotActive):
            services.rental_end(rental_id=rental.id)
    with pytest.raises(errors.RentalNotFound):
        services.rental_end(rental_id=uuid.uuid4())


def test_a_reserve_that_lands_after_the_sweep_failed_the_rental_is_released_again(customer):
    rental = Rental.objects.create(car_id=uuid.uuid4(), customer=customer)
    services._rental_settle_swept(rental_id=rental.id, held=False)
    assert OutboxMessage.objects.count() == 1
    settled = services._rental_settle(rental_id=rental.id, outcome=services.ReserveOutcome.HELD)
    assert (settled.status, settled.failure_code) == (RentalStatus.FAILED, FailureCode.ABANDONED)
    assert OutboxMessage.objects.filter(reservation_id=rental.id).count() == 2


def test_a_start_whose_rental_the_sweep_failed_meanwhile_frees_the_car_again(inventory, customer, monkeypatch):
    """The happy path's one-statement activation finds the rental no longer pending (the sweep failed it while
    inventory answered): the locked path takes over, the rental stays failed and a release is queued."""
    real_reserve = services._reserve

    def reserve_then_sweep(rental):
        outcome = real_reserve(rental)
        services._rental_settle_swept(rental_id=rental.id, held=False)  # the sweep got there first
        return outcome

    monkeypatch.setattr(services, "_reserve", reserve_then_sweep)
    with pytest.raises(errors.InventoryUnavailable):
        services.rental_start(car_id=inventory.make_car(), customer_id=customer.id)
    rental = Rental.objects.get()
    assert (rental.status, rental.failure_code, rental.started_at) == (RentalStatus.FAILED, FailureCode.ABANDONED, None)
    assert OutboxMessage.objects.filter(reservation_id=rental.id, status=OutboxStatus.PENDING).count() == 2


def test_a_request_that_finds_its_rental_activated_by_the_sweep_answers_it(customer):
    rental = Rental.objects.create(car_id=uuid.uuid4(), customer=customer)
    services._rental_settle_swept(rental_id=rental.id, held=True)
    settled = services._rental_settle(rental_id=rental.id, outcome=services.ReserveOutcome.UNKNOWN)
    assert settled.status == RentalStatus.ACTIVE
    assert not OutboxMessage.objects.exists()


def test_a_start_that_meets_a_deactivation_in_flight_waits_for_it_and_is_refused(inventory_down, customer):
    deactivating, finish = threading.Event(), threading.Event()
    outcome: dict[str, Exception] = {}

    def deactivate() -> None:
        try:
            with transaction.atomic():
                customer_services.customer_deactivate(customer_id=customer.id)  # row locked until commit
                deactivating.set()
                finish.wait(10)
        finally:
            connection.close()

    def start() -> None:
        try:
            services.rental_start(car_id=uuid.uuid4(), customer_id=customer.id)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            outcome["error"] = exc
        finally:
            connection.close()

    deactivator = threading.Thread(target=deactivate)
    deactivator.start()
    assert deactivating.wait(10)
    starter = threading.Thread(target=start)
    starter.start()
    starter.join(0.5)
    assert starter.is_alive()  # waiting on the customer's row, not deciding on what it read before
    finish.set()
    deactivator.join(10)
    starter.join(10)
    assert isinstance(outcome.get("error"), errors.RentalCustomerInactive)
    assert not Rental.objects.exists()
