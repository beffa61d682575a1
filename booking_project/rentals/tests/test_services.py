"""Starting and ending rentals against a real inventory (gunicorn on its own database)."""

import threading
import time
import uuid
from datetime import timedelta

import pytest
import responses
from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from customers import services as customer_services
from drivenow_contracts import InventoryUnavailable
from rentals import errors, metrics, outbox, services
from rentals.inventory import inventory_client
from rentals.models import (
    FailureCode,
    IdempotencyKey,
    IdempotencyState,
    OutboxMessage,
    OutboxStatus,
    Rental,
    RentalStatus,
)
from rentals.relay import OutboxRelay, RelaySettings

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
    with pytest.raises(errors.RentalCarUnavailable):
        services.rental_start(car_id=car_id, customer_id=customer.id)
    failed = Rental.objects.get(status=RentalStatus.FAILED)
    assert failed.failure_code == FailureCode.CAR_UNAVAILABLE and failed.started_at is None
    assert _counter(metrics.RENTALS_FAILED, code="car_unavailable") == failed_before + 1
    assert not OutboxMessage.objects.exists()  # inventory said no: nothing can be held


def test_a_car_in_maintenance_is_unavailable(inventory, customer):
    with pytest.raises(errors.RentalCarUnavailable):
        services.rental_start(car_id=inventory.make_car(status="maintenance"), customer_id=customer.id)


def test_an_unknown_car_fails_with_car_not_found(inventory, customer):
    with pytest.raises(errors.RentalCarNotFound) as caught:
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
    with pytest.raises(errors.RentalInventoryUnavailable):
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
        with pytest.raises(errors.RentalInventoryUnavailable):
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
    # with its release queued (and, inventory being up, delivered at once)
    assert OutboxMessage.objects.filter(reservation_id=rental.id).count() == 1
    assert inventory.car_status(rental.car_id) == "available"


def test_only_an_active_rental_can_end(inventory_down, customer):
    with pytest.raises(errors.RentalInventoryUnavailable):
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
    assert services.rental_sweep_pending(older_than=timedelta(0)) == 1
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
        assert services.rental_sweep_pending(older_than=timedelta(0)) == 1  # the sweep got there first
        return outcome

    monkeypatch.setattr(services, "_reserve", reserve_then_sweep)
    with pytest.raises(errors.RentalInventoryUnavailable):
        services.rental_start(car_id=inventory.make_car(), customer_id=customer.id)
    rental = Rental.objects.get()
    assert (rental.status, rental.failure_code, rental.started_at) == (RentalStatus.FAILED, FailureCode.ABANDONED, None)
    assert OutboxMessage.objects.filter(reservation_id=rental.id, status=OutboxStatus.PENDING).count() == 2


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
        except Exception as exc:
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


# -- what the client was told is what happened ---------------------------------------------------------------
def _reserve_then_lose_the_answer(monkeypatch):
    """Inventory makes the hold, but its answer never reaches booking (a read timeout): the outcome is unknown."""
    client = inventory_client()
    real = client.reserve

    def reserve(**kwargs):
        real(**kwargs)
        raise InventoryUnavailable("inventory unreachable: ReadTimeout")

    monkeypatch.setattr(client, "reserve", reserve)


def test_a_start_whose_activation_failed_after_the_hold_is_never_activated_later(inventory, customer, monkeypatch):
    """The seen defect: no Idempotency-Key, inventory made the hold, then booking's activation failed (its
    database went away): the client got 503. Its retry met the orphan's hold (409), and a minute later the sweep
    *activated* the orphan — an active rental nobody was told about. Now the sweep fails it and frees the car."""
    car_id = inventory.make_car()

    def database_went_away(rental, hold, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(services, "_rental_activate", database_went_away)
    with pytest.raises(OperationalError):
        services.rental_start(car_id=car_id, customer_id=customer.id)
    monkeypatch.undo()
    orphan = Rental.objects.get()
    assert orphan.status == RentalStatus.PENDING and inventory.car_status(car_id) == "rented"
    with pytest.raises(errors.RentalCarUnavailable):  # the client's retry meets the orphan's hold
        services.rental_start(car_id=car_id, customer_id=customer.id)

    assert services.rental_sweep_pending(older_than=timedelta(0)) == 1
    OutboxRelay(RelaySettings.from_settings()).deliver_due()
    orphan.refresh_from_db()
    assert (orphan.status, orphan.failure_code, orphan.started_at) == (RentalStatus.FAILED, FailureCode.ABANDONED, None)
    assert inventory.car_status(car_id) == "available"
    assert services.rental_start(car_id=car_id, customer_id=customer.id).status == RentalStatus.ACTIVE


def _start(staff, car_id, customer, key):
    return staff.post(
        "/api/v1/rentals/",
        {"car_id": str(car_id), "customer_id": str(customer.id)},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_a_503_retried_with_its_key_carries_on_with_the_same_rental_and_gets_its_car(
    inventory, customer, staff, monkeypatch
):
    """The defect found by reading: the key was forgotten on 503 and the retry reserved with a fresh id, met the
    first attempt's hold and stored 409 car_unavailable for 24 h. The key now keeps its rental and its id."""
    car_id = inventory.make_car()
    _reserve_then_lose_the_answer(monkeypatch)
    first = _start(staff, car_id, customer, "retry-after-503")
    assert first.status_code == 503 and first["Retry-After"]
    monkeypatch.undo()
    pending = Rental.objects.get()
    assert pending.status == RentalStatus.PENDING and inventory.car_status(car_id) == "rented"

    retried = _start(staff, car_id, customer, "retry-after-503")
    assert retried.status_code == 201, retried.content
    assert retried.json()["id"] == str(pending.id) and retried.json()["status"] == "active"
    replayed = _start(staff, car_id, customer, "retry-after-503")
    assert replayed.status_code == 201 and replayed.json() == retried.json()
    assert replayed["Idempotent-Replayed"] == "true"
    assert Rental.objects.count() == 1 and inventory.reservation_state(pending.id) == "active"
    assert not OutboxMessage.objects.exists()


def test_a_key_whose_rental_the_sweep_failed_starts_afresh_once_the_old_hold_is_released(
    inventory, customer, staff, monkeypatch
):
    car_id = inventory.make_car()
    _reserve_then_lose_the_answer(monkeypatch)
    assert _start(staff, car_id, customer, "retried-late").status_code == 503
    monkeypatch.undo()
    abandoned = Rental.objects.get()
    assert services.rental_sweep_pending(older_than=timedelta(0)) == 1  # nobody retried in time

    too_soon = _start(staff, car_id, customer, "retried-late")  # the old hold is not released yet
    assert too_soon.status_code == 503 and too_soon.json()["code"] == "inventory_unavailable"
    assert inventory.car_status(car_id) == "rented"
    OutboxRelay(RelaySettings.from_settings()).deliver_due()
    assert inventory.car_status(car_id) == "available"

    fresh = _start(staff, car_id, customer, "retried-late")
    assert fresh.status_code == 201, fresh.content
    assert fresh.json()["id"] != str(abandoned.id)
    assert inventory.reservation_state(fresh.json()["id"]) == "active"
    assert Rental.objects.get(id=abandoned.id).status == RentalStatus.FAILED


def test_a_retry_while_the_first_attempt_runs_is_still_refused_as_in_use(inventory, customer, staff, monkeypatch):
    car_id = inventory.make_car()
    _reserve_then_lose_the_answer(monkeypatch)
    assert _start(staff, car_id, customer, "busy").status_code == 503
    monkeypatch.undo()
    IdempotencyKey.objects.filter(key="busy").update(state=IdempotencyState.IN_PROGRESS)  # a retry is running
    second = _start(staff, car_id, customer, "busy")
    assert second.status_code == 409 and second.json()["code"] == "idempotency_key_in_use"


def test_ending_a_rental_frees_the_car_before_it_answers(inventory, customer):
    rental = services.rental_start(car_id=inventory.make_car(), customer_id=customer.id)
    services.rental_end(rental_id=rental.id)
    assert inventory.car_status(rental.car_id) == "available"  # no relay ran
    message = OutboxMessage.objects.get()
    assert (message.status, message.attempts) == (OutboxStatus.DELIVERED, 1)


def test_ending_while_inventory_is_down_answers_at_once_and_leaves_the_release_to_the_relay(
    inventory, customer, point_inventory, closed_port
):
    rental = services.rental_start(car_id=inventory.make_car(), customer_id=customer.id)
    point_inventory(f"http://127.0.0.1:{closed_port}", "any-token")
    started = time.monotonic()
    assert services.rental_end(rental_id=rental.id).status == RentalStatus.COMPLETED
    assert time.monotonic() - started < 2
    message = OutboxMessage.objects.get()
    assert (message.status, message.attempts) == (OutboxStatus.PENDING, 1) and "unavailable" in message.last_error
    point_inventory(inventory.url, inventory.service_token)
    OutboxMessage.objects.update(next_attempt_at=timezone.now())
    OutboxRelay(RelaySettings.from_settings()).deliver_due()
    assert OutboxMessage.objects.get().status == OutboxStatus.DELIVERED
    assert inventory.car_status(rental.car_id) == "available"


def test_ending_inside_a_callers_transaction_leaves_the_release_to_the_relay_at_once(inventory, customer):
    rental = services.rental_start(car_id=inventory.make_car(), customer_id=customer.id)
    with transaction.atomic():
        services.rental_end(rental_id=rental.id)
    message = OutboxMessage.objects.get()
    assert message.status == OutboxStatus.PENDING and message.next_attempt_at <= timezone.now()


def test_a_key_whose_abandoned_rental_has_a_dead_release_waits_for_it(inventory, customer, staff, monkeypatch):
    """A release inventory refused for good may leave the old hold in place: starting afresh would meet it and
    store 409 for 24 h. The key answers 503 until a person's "retry now" gets the release delivered."""
    car_id = inventory.make_car()
    _reserve_then_lose_the_answer(monkeypatch)
    assert _start(staff, car_id, customer, "dead-release").status_code == 503
    monkeypatch.undo()
    abandoned = Rental.objects.get()
    assert services.rental_sweep_pending(older_than=timedelta(0)) == 1
    OutboxMessage.objects.filter(reservation_id=abandoned.id).update(status=OutboxStatus.DEAD)
    assert _start(staff, car_id, customer, "dead-release").status_code == 503
    assert inventory.car_status(car_id) == "rented"
    outbox.outbox_retry_now(message_ids=list(OutboxMessage.objects.values_list("id", flat=True)))
    OutboxRelay(RelaySettings.from_settings()).deliver_due()
    fresh = _start(staff, car_id, customer, "dead-release")
    assert fresh.status_code == 201 and fresh.json()["id"] != str(abandoned.id)


def test_a_resumed_retry_is_left_to_itself_by_the_sweep_whatever_this_hosts_clock_says(
    inventory, customer, staff, monkeypatch
):
    """The sweep compares a rental's last change with the database's clock, and the change is written with that
    clock too: an instance whose own clock is minutes behind cannot make its retry look stale."""
    car_id = inventory.make_car()
    _reserve_then_lose_the_answer(monkeypatch)
    assert _start(staff, car_id, customer, "skewed").status_code == 503
    monkeypatch.undo()
    real_now = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real_now() - timedelta(minutes=2))
    client = inventory_client()
    real_reserve = client.reserve

    def the_sweep_runs_meanwhile(**kwargs):
        assert services.rental_sweep_pending(older_than=timedelta(seconds=60)) == 0
        return real_reserve(**kwargs)

    monkeypatch.setattr(client, "reserve", the_sweep_runs_meanwhile)
    retried = _start(staff, car_id, customer, "skewed")
    assert retried.status_code == 201, retried.content
    assert Rental.objects.get().status == RentalStatus.ACTIVE


def test_an_end_whose_release_cannot_be_recorded_still_answers_completed(inventory, customer, monkeypatch):
    rental = services.rental_start(car_id=inventory.make_car(), customer_id=customer.id)

    def database_went_away(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(services, "outbox_deliver_now", database_went_away)
    assert services.rental_end(rental_id=rental.id).status == RentalStatus.COMPLETED
    message = OutboxMessage.objects.get()
    assert message.status == OutboxStatus.PENDING  # the relay takes it when the request's lease runs out
