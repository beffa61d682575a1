"""The reconciler against a real inventory: holds no rental owns are released, with a log line and a metric for
each repair; holds of active and pending rentals are left alone. The live inventory is shared by the whole suite,
so these tests look only at the holds they made."""

import logging
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import transaction

from drivenow_contracts import InventoryClient
from rentals import metrics, services
from rentals.models import FailureCode, OutboxMessage, OutboxStatus, Rental, RentalStatus
from rentals.reconcile import holds_reconcile
from rentals.relay import OutboxRelay, RelaySettings

pytestmark = pytest.mark.django_db(transaction=True)


def _repairs(status: str) -> float:
    return metrics.RECONCILER_REPAIRS.labels(rental_status=status)._value.get()


def _held(inventory, rental: Rental) -> Rental:
    inventory.client().reserve(reservation_id=rental.id, car_id=rental.car_id)
    return rental


def test_holds_no_rental_owns_are_released_and_each_repair_is_logged_and_counted(inventory, customer, caplog):
    failed = _held(
        inventory,
        Rental.objects.create(
            car_id=inventory.make_car(),
            customer=customer,
            status=RentalStatus.FAILED,
            failure_code=FailureCode.INVENTORY_UNAVAILABLE,
        ),
    )
    stranger_car, stranger = inventory.make_car(), uuid.uuid4()  # a hold booking has no rental for at all
    inventory.client().reserve(reservation_id=stranger, car_id=stranger_car)
    before = (_repairs("failed"), _repairs("missing"))

    with caplog.at_level(logging.WARNING, logger="rentals.reconcile"):
        report = holds_reconcile(min_age=timedelta(0))
    assert {failed.id, stranger} <= set(report.released)
    assert (_repairs("failed"), _repairs("missing")) >= (before[0] + 1, before[1] + 1)
    assert any(str(failed.id) in line and "failed" in line for line in caplog.messages)
    assert any(str(stranger) in line and "missing" in line for line in caplog.messages)

    OutboxRelay(RelaySettings.from_settings()).deliver_due()
    assert inventory.car_status(failed.car_id) == "available"
    assert inventory.car_status(stranger_car) == "available"


def test_holds_of_active_and_pending_rentals_are_left_alone(inventory, customer):
    active = services.rental_start(car_id=inventory.make_car(), customer_id=customer.id)
    pending = _held(inventory, Rental.objects.create(car_id=inventory.make_car(), customer=customer))
    report = holds_reconcile(min_age=timedelta(0))
    assert not {active.id, pending.id} & set(report.released)
    assert not OutboxMessage.objects.filter(reservation_id__in=[active.id, pending.id]).exists()
    assert inventory.reservation_state(active.id) == inventory.reservation_state(pending.id) == "active"


def test_young_holds_are_not_judged_yet(inventory, customer):
    failed = _held(
        inventory,
        Rental.objects.create(
            car_id=inventory.make_car(),
            customer=customer,
            status=RentalStatus.FAILED,
            failure_code=FailureCode.INVENTORY_UNAVAILABLE,
        ),
    )
    assert failed.id not in holds_reconcile(min_age=timedelta(minutes=5)).released
    assert inventory.reservation_state(failed.id) == "active"


def test_a_release_already_on_its_way_is_not_queued_twice(inventory, customer):
    rental = services.rental_start(car_id=inventory.make_car(), customer_id=customer.id)
    with transaction.atomic():  # ended, its release queued for the relay and not delivered yet
        services.rental_end(rental_id=rental.id)
    assert rental.id not in holds_reconcile(min_age=timedelta(0)).released
    assert OutboxMessage.objects.filter(reservation_id=rental.id).count() == 1


def test_an_active_rental_inventory_holds_nothing_for_is_reported(inventory, customer, caplog):
    active = services.rental_start(car_id=inventory.make_car(), customer_id=customer.id)
    inventory.client().release(active.id)  # somebody released it behind booking's back
    before = metrics.RECONCILER_UNHELD._value.get()
    with caplog.at_level(logging.ERROR, logger="rentals.reconcile"):
        report = holds_reconcile(min_age=timedelta(0))
    assert active.id in report.rentals_without_hold
    assert metrics.RECONCILER_UNHELD._value.get() >= before + 1
    assert any(str(active.id) in line for line in caplog.messages)


def test_the_relay_command_reconciles_once(inventory, customer):
    failed = _held(
        inventory,
        Rental.objects.create(
            car_id=inventory.make_car(),
            customer=customer,
            status=RentalStatus.FAILED,
            failure_code=FailureCode.INVENTORY_UNAVAILABLE,
        ),
    )
    call_command("run_outbox_relay", "--reconcile", "--reconcile-min-age", "0")
    assert inventory.car_status(failed.car_id) == "available"
    assert OutboxMessage.objects.get(reservation_id=failed.id).status == OutboxStatus.DELIVERED


def test_a_rental_that_ends_while_the_pass_runs_is_no_repair(inventory, customer, monkeypatch):
    """The page of holds is read, then a front desk ends the rental and its car is freed at once, then the page is
    judged: the stale page must not count a repair (the metric is meant to stay at 0)."""
    rental = services.rental_start(car_id=inventory.make_car(), customer_id=customer.id)
    real = InventoryClient.list_reservations

    def page_then_the_rental_ends(self, **kwargs):
        page = real(self, **kwargs)
        if any(hold.id == rental.id for hold in page.results):
            services.rental_end(rental_id=rental.id)
        return page

    monkeypatch.setattr(InventoryClient, "list_reservations", page_then_the_rental_ends)
    before = _repairs("completed")
    report = holds_reconcile(min_age=timedelta(0))
    assert rental.id not in report.released and _repairs("completed") == before
    assert list(OutboxMessage.objects.filter(reservation_id=rental.id).values_list("status", flat=True)) == [
        OutboxStatus.DELIVERED
    ]
