"""The outbox relay and the pending sweep, against a real inventory (and `responses` for refusals)."""

import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import responses
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from drivenow_contracts import ReservationConflict
from rentals import outbox, services
from rentals.idempotency import idempotency_purge_expired
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
PROJECT_DIR = Path(__file__).resolve().parents[2]


def _active_rental(inventory, customer) -> Rental:
    return services.rental_start(car_id=inventory.make_car(), customer_id=customer.id)


def _end_for_the_relay(rental: Rental) -> None:
    """End the rental inside a transaction: the request cannot deliver the release itself, the relay must."""
    with transaction.atomic():
        services.rental_end(rental_id=rental.id)


def _relay(**overrides) -> OutboxRelay:
    return OutboxRelay(RelaySettings.from_settings(**overrides))


# -- delivery ------------------------------------------------------------------------------------------------
def test_the_relay_delivers_a_release_and_frees_the_car(inventory, customer):
    rental = _active_rental(inventory, customer)
    _end_for_the_relay(rental)
    call_command("run_outbox_relay", "--once")
    message = OutboxMessage.objects.get()
    assert (message.status, message.attempts) == (OutboxStatus.DELIVERED, 1)
    assert message.delivered_at is not None
    assert inventory.car_status(rental.car_id) == "available"
    assert inventory.reservation_state(rental.id) == "released"


def test_inventory_down_means_backoff_never_giving_up(inventory_down, customer, settings):
    settings.BOOKING_OUTBOX_BACKOFF_BASE = 10.0
    settings.BOOKING_OUTBOX_BACKOFF_CAP = 25.0
    rental = Rental.objects.create(
        car_id=uuid.uuid4(), customer=customer, status=RentalStatus.ACTIVE, started_at=timezone.now()
    )
    _end_for_the_relay(rental)
    delays = []
    for attempt in range(1, 5):
        before = timezone.now()
        _relay().deliver_due()
        message = OutboxMessage.objects.get()
        assert (message.status, message.attempts) == (OutboxStatus.PENDING, attempt)
        assert "unavailable" in message.last_error
        delays.append((message.next_attempt_at - before).total_seconds())
        _relay().deliver_due()  # not due yet: untouched
        assert OutboxMessage.objects.get().attempts == attempt
        OutboxMessage.objects.update(next_attempt_at=timezone.now())
    # base·2^(n-1), capped at 25 s, times a jitter in [0.5, 1]
    for delay, ceiling in zip(delays, [10, 20, 25, 25], strict=True):
        assert ceiling * 0.5 - 0.5 <= delay <= ceiling + 0.5, delays


def test_backoff_delay_is_capped_exponential_with_jitter(settings):
    settings.BOOKING_OUTBOX_BACKOFF_BASE = 1.0
    settings.BOOKING_OUTBOX_BACKOFF_CAP = 300.0
    for attempts, full in [(1, 1), (2, 2), (5, 16), (9, 256), (10, 300), (60, 300)]:
        samples = [outbox.backoff_delay(attempts) for _ in range(50)]
        assert all(full * 0.5 <= s <= full for s in samples)
        assert len(set(samples)) > 1  # jittered


@pytest.mark.parametrize(("status", "code"), [(400, "invalid"), (405, "method_not_allowed"), (422, "whatever")])
def test_a_permanent_refusal_is_dead_and_logged(point_inventory, customer, caplog, status, code):
    point_inventory("http://inventory.test", "token")
    reservation_id = uuid.uuid4()
    _queue_release(reservation_id)
    with responses.RequestsMock() as mocked, caplog.at_level(logging.ERROR, logger="rentals.outbox"):
        mocked.add(
            responses.POST,
            f"http://inventory.test/api/v1/reservations/{reservation_id}/release/",
            json={"code": code, "detail": "refused"},
            status=status,
        )
        _relay().deliver_due()
    message = OutboxMessage.objects.get()
    assert (message.status, message.attempts) == (OutboxStatus.DEAD, 1)
    assert str(status) in message.last_error
    assert any("dead" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("status", [401, 403, 429, 500, 502])
def test_credentials_rate_limits_and_5xx_are_retried_not_dead(point_inventory, status):
    point_inventory("http://inventory.test", "token")
    reservation_id = uuid.uuid4()
    _queue_release(reservation_id)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.add(
            responses.POST,
            f"http://inventory.test/api/v1/reservations/{reservation_id}/release/",
            json={"code": "x", "detail": "later"},
            status=status,
        )
        _relay().deliver_due()
    message = OutboxMessage.objects.get()
    assert (message.status, message.attempts) == (OutboxStatus.PENDING, 1)
    assert message.next_attempt_at > timezone.now()


def test_a_release_inventory_never_heard_of_is_delivered_at_once_and_spends_the_id(inventory):
    _queue_release(uuid.uuid4())
    _relay().deliver_due()
    message = OutboxMessage.objects.get()
    assert (message.status, message.attempts) == (OutboxStatus.DELIVERED, 1)
    assert "never held" in message.last_error and "spent" in message.last_error


def test_a_reserve_that_lands_after_its_release_was_delivered_never_holds_the_car(inventory, customer):
    """The seen defect: a reserve that timed out for booking (a frozen instance, a stalled commit) reaches
    inventory after the rental failed and its release was answered 404 and recorded as delivered. It used to
    take the car for good: the rental was failed and nothing would ever free it."""
    car_id = inventory.make_car()
    rental = Rental.objects.create(
        car_id=car_id, customer=customer, status=RentalStatus.FAILED, failure_code=FailureCode.INVENTORY_UNAVAILABLE
    )
    _queue_release(rental.id)
    _relay().deliver_due()
    assert OutboxMessage.objects.get().status == OutboxStatus.DELIVERED
    with pytest.raises(ReservationConflict):  # ...lands late, and is refused: the id is spent
        inventory.client().reserve(reservation_id=rental.id, car_id=car_id)
    assert inventory.car_status(car_id) == "available"


def test_two_relays_at_once_never_deliver_a_row_twice(inventory, customer, monkeypatch):
    client = inventory_client()
    rentals = [_active_rental(inventory, customer) for _ in range(30)]
    for rental in rentals:
        _end_for_the_relay(rental)
    calls: Counter = Counter()
    lock = threading.Lock()
    real_release = client.release

    def counting_release(reservation_id):
        with lock:
            calls[str(reservation_id)] += 1
        time.sleep(0.01)  # let the two relays interleave
        return real_release(reservation_id)

    monkeypatch.setattr(client, "release", counting_release)
    barrier = threading.Barrier(2)
    done: list[int] = []

    def run_relay() -> None:
        barrier.wait()
        try:
            done.append(_relay(batch=3).deliver_due())
        finally:
            connection.close()

    threads = [threading.Thread(target=run_relay) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(done) == 30 and all(done), done  # both worked, together exactly once per row
    assert set(calls.values()) == {1} and len(calls) == 30
    assert OutboxMessage.objects.filter(status=OutboxStatus.DELIVERED).count() == 30
    assert {inventory.car_status(r.car_id) for r in rentals} == {"available"}


def test_two_relay_processes_at_once_deliver_every_row_once(inventory, customer):
    rentals = [_active_rental(inventory, customer) for _ in range(20)]
    for rental in rentals:
        _end_for_the_relay(rental)
    env = _relay_env(inventory)
    procs = [
        subprocess.Popen(
            [sys.executable, "manage.py", "run_outbox_relay", "--once", "--batch", "2"],
            cwd=PROJECT_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=60)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    messages = OutboxMessage.objects.all()
    assert {m.status for m in messages} == {OutboxStatus.DELIVERED}
    assert {m.attempts for m in messages} == {1}  # each row delivered by exactly one relay, once
    assert {inventory.car_status(r.car_id) for r in rentals} == {"available"}


def test_a_relay_that_lost_its_lease_does_not_overwrite_the_new_holder(inventory_down):
    _queue_release(uuid.uuid4())
    [stale] = outbox.outbox_claim_due(limit=1, lease=timedelta(seconds=0))
    [current] = outbox.outbox_claim_due(limit=1, lease=timedelta(seconds=60))
    assert outbox.outbox_deliver(claim=stale) == outbox.Delivery.LEASE_LOST
    assert OutboxMessage.objects.get().next_attempt_at == current.lease_until  # still the new holder's


def test_a_stopping_relay_finishes_its_row_and_gives_the_batch_back(inventory_down):
    for _ in range(4):
        _queue_release(uuid.uuid4())
    delivered = []
    relay = OutboxRelay(RelaySettings.from_settings(batch=4, concurrency=1), should_stop=lambda: len(relay.counts) > 0)
    delivered.append(relay.deliver_due())
    assert delivered == [1]
    due_now = OutboxMessage.objects.filter(attempts=0, next_attempt_at__lte=timezone.now())
    assert due_now.count() == 3  # not left waiting for a lease to run out


def test_a_stopping_concurrent_relay_finishes_what_is_in_flight_and_gives_the_rest_back(inventory_down):
    for _ in range(8):
        _queue_release(uuid.uuid4())
    relay = OutboxRelay(RelaySettings.from_settings(batch=8, concurrency=2), should_stop=lambda: len(relay.counts) > 0)
    attempted = relay.deliver_due()
    assert 1 <= attempted <= 2  # the first to finish stops the relay; at most the other one was under way
    assert OutboxMessage.objects.filter(attempts=1).count() == attempted
    due_now = OutboxMessage.objects.filter(attempts=0, next_attempt_at__lte=timezone.now())
    assert due_now.count() == 8 - attempted


def test_a_concurrent_relay_delivers_a_backlog_once_each(inventory, customer):
    """Four deliveries at a time through a backlog of real releases: every car freed, every row delivered once."""
    rentals = [_active_rental(inventory, customer) for _ in range(24)]
    for rental in rentals:
        _end_for_the_relay(rental)
    relay = OutboxRelay(RelaySettings.from_settings(batch=10, concurrency=4))
    assert relay.deliver_due() == 24
    assert relay.counts == {outbox.Delivery.DELIVERED: 24}
    assert OutboxMessage.objects.filter(status=OutboxStatus.DELIVERED, attempts=1).count() == 24
    assert {inventory.car_status(r.car_id) for r in rentals} == {"available"}


def test_sigterm_stops_the_relay_cleanly(inventory_down):
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "run_outbox_relay", "--interval", "0.2"],
        cwd=PROJECT_DIR,
        env=_relay_env(None),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # SIGTERM once the relay says it started (its handlers are in place by then): however slow the start-up on a
    # busy machine, the signal never lands before the relay can take it. A relay that never starts is killed.
    watchdog = threading.Timer(60, proc.kill)
    watchdog.start()
    started: list[str] = []
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            started.append(line)
            if "relay: started" in line:
                break
        assert proc.poll() is None, "".join(started)
        proc.send_signal(signal.SIGTERM)
        output = "".join(started) + proc.communicate(timeout=10)[0]
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert "SIGTERM received" in output and "stopped" in output


# -- the pending sweep ---------------------------------------------------------------------------------------
def test_sweep_fails_a_pending_rental_even_when_inventory_holds_its_car_and_frees_the_car(inventory, customer):
    """Booking's activation failed after inventory made the hold (its database went away): the client got a 503
    (or a crash, no answer at all), never a 201. The sweep used to *activate* such a rental — an active rental
    nobody was told about. A pending rental never answered 201: the sweep fails it and releases the car."""
    car_id = inventory.make_car()
    rental = Rental.objects.create(car_id=car_id, customer=customer)
    IdempotencyKey.objects.create(key="crashed", fingerprint="f" * 64, rental=rental)
    inventory.client().reserve(reservation_id=rental.id, car_id=car_id)
    call_command("run_outbox_relay", "--once", "--pending-age", "0")
    call_command("run_outbox_relay", "--once")  # delivers the release the sweep queued
    rental.refresh_from_db()
    assert (rental.status, rental.failure_code, rental.started_at) == (RentalStatus.FAILED, FailureCode.ABANDONED, None)
    assert inventory.car_status(car_id) == "available"
    assert inventory.reservation_state(rental.id) == "released"
    key = IdempotencyKey.objects.get()
    assert (key.state, key.response_status) == (IdempotencyState.RETRYABLE, None)  # 503 was never an answer to keep


def test_sweep_fails_a_pending_rental_inventory_never_held_and_releases_to_be_sure(inventory, customer):
    rental = Rental.objects.create(car_id=inventory.make_car(), customer=customer)
    IdempotencyKey.objects.create(key="crashed-early", fingerprint="f" * 64, rental=rental)
    assert services.rental_sweep_pending(older_than=timedelta(0)) == 1
    rental.refresh_from_db()
    assert (rental.status, rental.failure_code) == (RentalStatus.FAILED, FailureCode.ABANDONED)
    assert OutboxMessage.objects.get().reservation_id == rental.id
    assert IdempotencyKey.objects.get().state == IdempotencyState.RETRYABLE


def test_sweep_fails_a_pending_rental_whose_hold_was_released(inventory, customer):
    car_id = inventory.make_car()
    rental = Rental.objects.create(car_id=car_id, customer=customer)
    client = inventory.client()
    client.reserve(reservation_id=rental.id, car_id=car_id)
    client.release(rental.id)
    services.rental_sweep_pending(older_than=timedelta(0))
    rental.refresh_from_db()
    assert rental.status == RentalStatus.FAILED


def test_sweep_leaves_recently_touched_pending_rentals_and_needs_no_inventory(inventory_down, customer):
    young = Rental.objects.create(car_id=uuid.uuid4(), customer=customer)
    old = [Rental.objects.create(car_id=uuid.uuid4(), customer=customer) for _ in range(3)]
    Rental.objects.filter(id__in=[r.id for r in old]).update(updated_at=timezone.now() - timedelta(minutes=5))
    assert services.rental_sweep_pending(older_than=timedelta(minutes=1)) == 3  # inventory down changes nothing
    assert Rental.objects.get(id=young.id).status == RentalStatus.PENDING
    assert {r.status for r in Rental.objects.filter(id__in=[r.id for r in old])} == {RentalStatus.FAILED}
    assert set(OutboxMessage.objects.values_list("reservation_id", flat=True)) == {r.id for r in old}


def test_a_lease_shorter_than_a_call_is_lengthened(settings):
    relay = _relay(lease=timedelta(seconds=1))
    assert relay.config.lease.total_seconds() >= 2 * (
        settings.BOOKING_INVENTORY_CONNECT_TIMEOUT + settings.BOOKING_INVENTORY_READ_TIMEOUT
    )


def test_rows_whose_lease_could_run_out_mid_call_are_given_back(inventory_down, monkeypatch):
    """With calls as slow as the lease allows, a relay delivers what fits and hands the rest back at once.
    One delivery at a time: the fake clock below adds up the calls' durations, as only sequential calls do."""
    for _ in range(3):
        _queue_release(uuid.uuid4())
    relay = _relay(batch=3, concurrency=1)
    budget = relay.config.lease.total_seconds() * 0.6
    monkeypatch.setattr("rentals.relay.inventory_call_budget", lambda: budget)
    clock = [0.0]
    monkeypatch.setattr("rentals.relay.time.monotonic", lambda: clock[0])
    real_deliver = outbox.outbox_deliver

    def slow_deliver(*, claim):
        clock[0] += budget  # each call takes the whole budget
        return real_deliver(claim=claim)

    monkeypatch.setattr("rentals.relay.outbox_deliver", slow_deliver)
    monkeypatch.setattr(relay, "should_stop", lambda: clock[0] > 10 * budget)
    relay.deliver_due()
    assert relay.counts == {"retry": 3}  # all delivered (to a down inventory), one fresh lease each


def test_housekeeping_purges_expired_keys_and_old_delivered_messages(inventory_down, customer):
    IdempotencyKey.objects.create(key="old", fingerprint="a" * 64, created_at=timezone.now() - timedelta(hours=25))
    IdempotencyKey.objects.create(key="new", fingerprint="b" * 64)
    _queue_release(uuid.uuid4())
    OutboxMessage.objects.update(status=OutboxStatus.DELIVERED, delivered_at=timezone.now() - timedelta(days=8))
    _relay().housekeeping()
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]
    assert not OutboxMessage.objects.exists()
    assert idempotency_purge_expired() == 0


# -- helpers -------------------------------------------------------------------------------------------------
def _queue_release(reservation_id) -> None:
    from django.db import transaction

    with transaction.atomic():
        outbox.outbox_enqueue_release(reservation_id=reservation_id)


def _relay_env(inventory) -> dict[str, str]:
    """A relay process on this test's database, talking to `inventory` (or to nothing)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "BOOKING_DB_NAME": connection.settings_dict["NAME"],
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if inventory is not None:
        env.update(DN_TEST_BOOKING_INVENTORY_URL=inventory.url, DN_TEST_BOOKING_INVENTORY_TOKEN=inventory.service_token)
    else:
        env.pop("DN_TEST_BOOKING_INVENTORY_URL", None)
    return env
