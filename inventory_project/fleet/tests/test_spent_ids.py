"""A released id is spent forever — also when inventory first hears of it in the release — and a hold's times
come from the database's clock, whatever the clock of the instance that handles the request says."""

import threading
import time
import uuid
from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from fleet import errors, services, statements
from fleet.models import Car, CarStatus, Reservation, ReservationState
from fleet.tests.factories import CarFactory
from fleet.tests.test_api import assert_problem


def test_a_reserve_arriving_after_the_release_of_its_id_is_refused(service, car):
    rid = str(uuid.uuid4())
    # The release overtook the reserve (a frozen instance, a stalled commit): inventory never held this id.
    assert_problem(service.post(f"/api/v1/reservations/{rid}/release/"), 404, "reservation_not_found")
    body = assert_problem(
        service.post("/api/v1/reservations/", {"id": rid, "car_id": str(car.id)}, format="json"),
        409,
        "reservation_conflict",
    )
    assert "released" in body["detail"]
    car.refresh_from_db()
    assert car.status == CarStatus.AVAILABLE
    assert not Reservation.objects.filter(car=car).exists()
    # Releasing it again is the same answer; the tombstone is no hold anyone can read.
    assert_problem(service.post(f"/api/v1/reservations/{rid}/release/"), 404, "reservation_not_found")
    assert_problem(service.get(f"/api/v1/reservations/{rid}/"), 404, "reservation_not_found")
    assert service.get("/api/v1/reservations/").json()["count"] == 0


def test_a_released_hold_cannot_be_taken_again_with_its_id(service, car):
    rid = str(uuid.uuid4())
    assert service.post("/api/v1/reservations/", {"id": rid, "car_id": str(car.id)}, format="json").status_code == 201
    assert service.post(f"/api/v1/reservations/{rid}/release/").status_code == 200
    assert_problem(
        service.post("/api/v1/reservations/", {"id": rid, "car_id": str(car.id)}, format="json"),
        409,
        "reservation_conflict",
    )
    car.refresh_from_db()
    assert car.status == CarStatus.AVAILABLE


def _reserve_and_release_at_once(rid: uuid.UUID, car_id: uuid.UUID) -> dict[str, str]:
    """A reserve and a release of the same id in two threads, let go together: what each was answered."""
    barrier = threading.Barrier(2)
    answers: dict[str, str] = {}

    def reserve() -> None:
        barrier.wait()
        try:
            services.reservation_create(reservation_id=rid, car_id=car_id)
            answers["reserve"] = "held"
        except errors.ReservationConflict:
            answers["reserve"] = "spent"
        finally:
            connection.close()

    def release() -> None:
        barrier.wait()
        try:
            services.reservation_release(reservation_id=rid)
            answers["release"] = "released"
        except errors.ReservationNotFound:
            answers["release"] = "tombstone"
        finally:
            connection.close()

    threads = [threading.Thread(target=reserve), threading.Thread(target=release)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.mark.django_db(transaction=True)
def test_a_release_racing_the_reserve_of_its_id_never_leaves_the_car_held():
    """Real threads, each with its own connection: whichever of the two lands first, the car ends up free and the
    id spent."""
    car = CarFactory()
    outcomes: set[str] = set()
    for _ in range(40):
        rid = uuid.uuid4()
        answers = _reserve_and_release_at_once(rid, car.id)
        # Either the hold was made and then released, or the release came first and the reserve was refused.
        assert (answers["reserve"], answers["release"]) in {("held", "released"), ("spent", "tombstone")}
        outcomes.add(answers["release"])
        assert Car.objects.get(id=car.id).status == CarStatus.AVAILABLE
        assert Reservation.objects.get(id=rid).state == ReservationState.RELEASED
        assert not Reservation.objects.filter(car=car, state=ReservationState.ACTIVE).exists()
    assert outcomes  # at least one round ran; which orders occurred depends on the scheduler


@pytest.mark.parametrize("skew", [timedelta(hours=-1), timedelta(hours=1)])
def test_a_hold_is_timed_by_the_database_clock_whatever_the_instance_clock(monkeypatch, car, skew):
    """Two instances whose clocks disagree, one taking the car and the other releasing it: the hold's period
    is the database's, so it never ends before it began (which PostgreSQL would refuse as an invalid range)."""
    real_now = timezone.now
    rid = uuid.uuid4()
    monkeypatch.setattr(timezone, "now", lambda: real_now() + skew)
    services.reservation_create(reservation_id=rid, car_id=car.id)
    monkeypatch.setattr(timezone, "now", lambda: real_now() - skew)
    released = services.reservation_release(reservation_id=rid)
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        db_now = cursor.fetchone()[0]
    assert released.period.lower <= released.period.upper
    assert abs(released.period.lower - db_now) < timedelta(minutes=1)
    assert abs(released.period.upper - db_now) < timedelta(minutes=1)


# -- the interleavings, one at a time: a second connection holds its statement's transaction open ----------------
def _raw_connection(*, autocommit: bool = False) -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"],
        port=db["PORT"],
        user=db["USER"],
        password=db["PASSWORD"],
        dbname=db["NAME"],
        autocommit=autocommit,
    )


@pytest.fixture
def holder(transactional_db):
    """A second connection whose statement's transaction the test keeps open. Closed before the test database is
    flushed, whatever the test did, so a failed test cannot leave the flush waiting on its locks."""
    conn = _raw_connection()
    yield conn
    conn.close()


def _in_thread(call):
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except Exception as exc:
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _wait_until_blocked_by(holder: psycopg.Connection) -> None:
    """Until some session waits for a lock `holder` has (the statement in the thread, and nothing else's)."""
    deadline = time.monotonic() + 10
    # Autocommit: within one transaction pg_stat_activity is a snapshot and would never show the wait begin.
    with _raw_connection(autocommit=True) as watcher:
        while time.monotonic() < deadline:
            waiting = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", [holder.info.backend_pid]
            ).fetchone()[0]
            if waiting:
                return
            time.sleep(0.02)
    raise AssertionError("the second statement never waited for the first")


@pytest.mark.parametrize("ends", ["commit", "rollback"])
def test_a_release_waits_for_a_reserve_of_its_id_in_flight_and_then_ends_it_or_spends_the_id(holder, ends):
    car = CarFactory()
    rid = uuid.uuid4()
    reserve = holder
    reserve.execute(statements.RESERVATION_TAKE_CAR, {**statements.PARAMS, "id": rid, "car_id": car.id})
    thread, outcome = _in_thread(lambda: services.reservation_release(reservation_id=rid))
    _wait_until_blocked_by(reserve)
    getattr(reserve, ends)()
    thread.join(10)
    held = Reservation.objects.get(id=rid)
    assert held.state == ReservationState.RELEASED
    assert Car.objects.get(id=car.id).status == CarStatus.AVAILABLE
    if ends == "commit":  # the hold was made after all: released
        assert "value" in outcome and not held.is_tombstone
    else:  # it never was: the id is spent
        assert isinstance(outcome.get("error"), errors.ReservationNotFound) and held.is_tombstone


@pytest.mark.parametrize("ends", ["commit", "rollback"])
def test_a_reserve_waits_for_a_tombstone_in_flight_and_is_refused_once_it_commits(holder, ends):
    car = CarFactory()
    rid = uuid.uuid4()
    release = holder
    assert len(release.execute(statements.RESERVATION_RELEASE, {**statements.PARAMS, "id": rid}).fetchall()) == 1
    thread, outcome = _in_thread(lambda: services.reservation_create(reservation_id=rid, car_id=car.id))
    _wait_until_blocked_by(release)
    getattr(release, ends)()
    thread.join(10)
    status = Car.objects.get(id=car.id).status
    if ends == "commit":
        assert isinstance(outcome.get("error"), errors.ReservationConflict) and status == CarStatus.AVAILABLE
    else:
        assert outcome["value"][1] is True and status == CarStatus.RENTED


def test_two_releases_of_one_hold_at_once_both_answer_it_released(holder):
    car = CarFactory()
    rid = uuid.uuid4()
    services.reservation_create(reservation_id=rid, car_id=car.id)
    first = holder
    first.execute(statements.RESERVATION_RELEASE, {**statements.PARAMS, "id": rid})
    thread, outcome = _in_thread(lambda: services.reservation_release(reservation_id=rid))
    _wait_until_blocked_by(first)
    first.commit()
    thread.join(10)
    assert outcome["value"].state == ReservationState.RELEASED and not outcome["value"].is_tombstone
