"""v2's holds under concurrent requests, each race forced with a second connection (or a paused thread) holding
its transaction open at the worst moment — findings of a review of the reservation code, each with the
interleaving it names."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from drivenow_contracts import ErrorCode
from drivenow_contracts.server.errors import problem_exception_handler
from fleet import errors, services
from fleet.models import Car, CarStatus, Location, Reservation, ReservationState, Transmission, VehicleClass
from fleet.tests.factories import CarFactory
from fleet.tests.test_spent_ids import _in_thread, _wait_until_blocked_by, holder  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def branch() -> Location:
    return Location.objects.create(code="TLV-AIR", name="Airport", time_zone="Asia/Jerusalem")


@pytest.fixture
def compact() -> VehicleClass:
    return VehicleClass.objects.create(
        code="COMPACT", name="Compact", seats=5, transmission=Transmission.MANUAL, min_rental_minutes=0
    )


def soon(minutes: float) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)


def test_a_release_that_waited_for_a_pick_up_of_its_hold_frees_the_car(holder, branch, compact):  # noqa: F811
    """The release waits on the hold's lock while the pick-up commits; its UPDATE of the car must follow the car's
    newest row (rented), not its own snapshot's (available) — else the car stays rented with no hold, forever."""
    car = CarFactory(vehicle_class=compact, location=branch)
    rid = uuid.uuid4()
    services.reservation_create(reservation_id=rid, car_id=car.id, starts_at=soon(2), ends_at=soon(60))
    holder.execute("SELECT 1 FROM fleet_reservation WHERE id = %s FOR UPDATE", [rid])  # the pick-up, mid-way
    holder.execute("UPDATE fleet_car SET status = 'rented' WHERE id = %s", [car.id])
    holder.execute("UPDATE fleet_reservation SET picked_up_at = now() WHERE id = %s", [rid])
    thread, outcome = _in_thread(lambda: services.reservation_release(reservation_id=rid, odometer_km=55))
    _wait_until_blocked_by(holder)
    holder.commit()
    thread.join(10)
    assert outcome["value"].state == ReservationState.RELEASED
    car.refresh_from_db()
    assert (car.status, car.odometer_km) == (CarStatus.AVAILABLE, 55)


def test_a_retried_reserve_that_waited_for_its_original_is_answered_as_its_replay(holder, branch, compact):  # noqa: F811
    """The original holds the car's lock and has inserted the hold; the retry finds no free car, waits for that
    lock, and must then answer the original's hold (200), not class_unavailable (which leaves the hold orphaned)."""
    car = CarFactory(vehicle_class=compact, location=branch)
    rid = uuid.uuid4()
    start, end = soon(60 * 24), soon(60 * 48)
    holder.execute("SELECT 1 FROM fleet_car WHERE id = %s FOR NO KEY UPDATE", [car.id])
    holder.execute(
        "INSERT INTO fleet_reservation (id, kind, car_id, period, state, ends_at, vehicle_class_id, location_id, "
        "return_location_id, reason, created_at) VALUES (%s, 'rental', %s, tstzrange(%s, %s + interval '30 minutes'),"
        " 'active', %s, %s, %s, %s, '', now())",
        [rid, car.id, start, end, end, compact.id, branch.id, branch.id],
    )
    thread, outcome = _in_thread(
        lambda: services.reservation_create(
            reservation_id=rid, vehicle_class="COMPACT", location="TLV-AIR", starts_at=start, ends_at=end
        )
    )
    _wait_until_blocked_by(holder)
    holder.commit()
    thread.join(10)
    held, created = outcome["value"]
    assert (held.id, held.car_id, created) == (rid, car.id, False)


def test_a_pick_up_that_waited_behind_a_reassign_of_its_hold_picks_up_the_new_car(branch, compact, monkeypatch):
    """A reassign moves the hold in place (the row updated, not deleted and inserted anew): a pick-up waiting on the
    hold's lock finds it afterwards, on its new car, instead of answering reservation_not_found."""
    first, second = (CarFactory(vehicle_class=compact, location=branch) for _ in range(2))
    held, _ = services.reservation_create(
        reservation_id=uuid.uuid4(), car_id=first.id, starts_at=soon(5), ends_at=soon(60)
    )
    moved, go_on = threading.Event(), threading.Event()
    answer = services._answer

    def pause_before_commit(reservation_id):
        moved.set()
        assert go_on.wait(10)
        return answer(reservation_id)

    monkeypatch.setattr(services, "_answer", pause_before_commit)
    reassign, reassigned = _in_thread(
        lambda: services.reservation_reassign(reservation_id=held.id, from_car_id=first.id)
    )
    assert moved.wait(10)
    monkeypatch.setattr(services, "_answer", answer)
    pick_up, picked = _in_thread(lambda: services.reservation_pick_up(reservation_id=held.id))
    threading.Timer(0.5, go_on.set).start()  # let the pick-up reach the hold's lock, then let the reassign commit
    reassign.join(10)
    pick_up.join(10)
    assert "value" in reassigned and "value" in picked, (reassigned, picked)
    assert reassigned["value"].car_id == second.id
    assert picked["value"].car_id == second.id and picked["value"].picked_up_at is not None
    assert Car.objects.get(id=second.id).status == CarStatus.RENTED
    assert Car.objects.get(id=first.id).status == CarStatus.AVAILABLE


def test_a_release_unless_picked_up_never_frees_a_car_that_has_left(branch, compact):
    car = CarFactory(vehicle_class=compact, location=branch)
    out, _ = services.reservation_create(
        reservation_id=uuid.uuid4(), car_id=car.id, starts_at=soon(2), ends_at=soon(60)
    )
    services.reservation_pick_up(reservation_id=out.id)
    with pytest.raises(errors.ReservationConflict):
        services.reservation_release(reservation_id=out.id, unless_picked_up=True)
    assert Reservation.objects.get(id=out.id).state == ReservationState.ACTIVE
    assert Car.objects.get(id=car.id).status == CarStatus.RENTED
    later, _ = services.reservation_create(
        reservation_id=uuid.uuid4(), car_id=car.id, starts_at=soon(60 * 24), ends_at=soon(60 * 48)
    )
    assert (
        services.reservation_release(reservation_id=later.id, unless_picked_up=True).state == ReservationState.RELEASED
    )


class _Deadlock(Exception):
    sqlstate = "40P01"


def test_a_deadlock_is_a_503_to_retry_at_once_not_a_database_outage():
    from django.db import OperationalError

    exc = OperationalError("deadlock detected")
    exc.__cause__ = _Deadlock()
    response = problem_exception_handler(exc, {})
    assert response.status_code == 503 and response["Retry-After"] == "1"
    assert response.data["code"] == ErrorCode.CONCURRENT_UPDATE
