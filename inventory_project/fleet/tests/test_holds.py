"""Holds over a window (v2): reserve a car or a class for [starts_at, ends_at) plus the class's turnaround, pick
up, extend, reassign, release with readings, and staff's blocks — all under one exclusion constraint. Times are
instants: a branch's time zone (and its DST change) never moves a hold."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from psycopg.types.range import Range

from drivenow_contracts.testing import assert_problem
from fleet import errors, selectors, services
from fleet.models import Car, CarStatus, HoldKind, Location, Reservation, ReservationState, Transmission, VehicleClass
from fleet.tests.factories import CarFactory

pytestmark = pytest.mark.django_db

FRIDAY = datetime(2031, 3, 7, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def branch() -> Location:
    return Location.objects.create(code="TLV-AIR", name="Tel Aviv Airport", time_zone="Asia/Jerusalem")


@pytest.fixture
def other_branch() -> Location:
    return Location.objects.create(code="TLV-CEN", name="Tel Aviv Centre", time_zone="Asia/Jerusalem")


@pytest.fixture
def compact() -> VehicleClass:
    return VehicleClass.objects.create(
        code="COMPACT",
        name="Compact",
        seats=5,
        transmission=Transmission.MANUAL,
        turnaround_minutes=30,
        min_rental_minutes=0,  # the windows here are short; the minimum has its own test
    )


@pytest.fixture
def car(branch, compact) -> Car:
    return CarFactory(vehicle_class=compact, location=branch, odometer_km=1000)


def book(car_or_class, starts_at: datetime, ends_at: datetime, *, location: str | None = "TLV-AIR", **extra):
    """A window reserve: by car (a Car) or by class (its code)."""
    rid = extra.pop("reservation_id", uuid.uuid4())
    if isinstance(car_or_class, Car):
        return services.reservation_create(
            reservation_id=rid, car_id=car_or_class.id, starts_at=starts_at, ends_at=ends_at, **extra
        )[0]
    return services.reservation_create(
        reservation_id=rid, vehicle_class=car_or_class, location=location, starts_at=starts_at, ends_at=ends_at, **extra
    )[0]


def soon(minutes: int = 10) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)


def test_a_window_hold_is_away_for_its_turnaround_and_leaves_the_car_status_alone(car):
    held = book(car, FRIDAY, FRIDAY + 2 * DAY)
    assert (held.car_id, held.state, held.picked_up_at) == (car.id, ReservationState.ACTIVE, None)
    assert held.period.lower == FRIDAY and held.period.upper == FRIDAY + 2 * DAY + timedelta(minutes=30)
    assert (held.vehicle_class_code, held.location_code, held.return_location_code) == ("COMPACT", "TLV-AIR", "TLV-AIR")
    assert Car.objects.get(id=car.id).status == CarStatus.AVAILABLE  # future holds never change the state now


def test_back_to_back_windows_need_the_turnaround_between_them(car):
    book(car, FRIDAY, FRIDAY + DAY)
    with pytest.raises(errors.CarUnavailable):
        book(car, FRIDAY + DAY, FRIDAY + 2 * DAY)  # the car is still being cleaned
    with pytest.raises(errors.CarUnavailable):
        book(car, FRIDAY + DAY + timedelta(minutes=29), FRIDAY + 2 * DAY)
    after = book(car, FRIDAY + DAY + timedelta(minutes=30), FRIDAY + 2 * DAY)
    assert after.car_id == car.id
    # and before: the earlier window's own turnaround must end by the first one's start
    with pytest.raises(errors.CarUnavailable):
        book(car, FRIDAY - DAY, FRIDAY - timedelta(minutes=29))
    assert book(car, FRIDAY - DAY, FRIDAY - timedelta(minutes=30)).car_id == car.id


def test_a_class_without_turnaround_books_back_to_back(branch):
    van = VehicleClass.objects.create(
        code="VAN", name="Van", seats=9, transmission="manual", turnaround_minutes=0, min_rental_minutes=0
    )
    car = CarFactory(vehicle_class=van, location=branch)
    book(car, FRIDAY, FRIDAY + DAY)
    assert book(car, FRIDAY + DAY, FRIDAY + 2 * DAY).car_id == car.id


def test_reserve_by_class_picks_the_car_whose_neighbouring_holds_leave_the_smallest_gap(branch, compact):
    loose, snug, empty = (CarFactory(vehicle_class=compact, location=branch) for _ in range(3))
    book(loose, FRIDAY - 5 * DAY, FRIDAY - 4 * DAY)
    book(snug, FRIDAY - DAY, FRIDAY - timedelta(hours=2))
    book(snug, FRIDAY + DAY + timedelta(hours=3), FRIDAY + 2 * DAY)
    chosen = book("COMPACT", FRIDAY, FRIDAY + DAY)
    assert chosen.car_id == snug.id
    assert book("COMPACT", FRIDAY, FRIDAY + DAY).car_id == loose.id  # a gap before it beats none at all
    assert book("COMPACT", FRIDAY, FRIDAY + DAY).car_id == empty.id
    with pytest.raises(errors.ClassUnavailable):
        book("COMPACT", FRIDAY, FRIDAY + DAY)


def test_reserve_by_class_looks_only_at_the_branch_and_the_class_and_never_at_cars_out_of_service(
    branch, other_branch, compact
):
    suv = VehicleClass.objects.create(code="SUV", name="SUV", seats=7, transmission="automatic")
    CarFactory(vehicle_class=compact, location=other_branch)
    CarFactory(vehicle_class=suv, location=branch)
    CarFactory(vehicle_class=compact, location=branch, status=CarStatus.MAINTENANCE)
    CarFactory(vehicle_class=compact, location=branch, status=CarStatus.RETIRED)
    with pytest.raises(errors.ClassUnavailable):
        book("COMPACT", FRIDAY, FRIDAY + DAY)


def test_a_car_out_now_is_free_after_its_rental_but_not_when_it_is_overdue(car, compact, branch):
    out = book(car, soon(1), soon(60 * 24))
    services.reservation_pick_up(reservation_id=out.id)
    assert Car.objects.get(id=car.id).status == CarStatus.RENTED
    assert book("COMPACT", FRIDAY, FRIDAY + DAY).car_id == car.id  # back long before Friday
    late = CarFactory(vehicle_class=compact, location=branch)
    overdue = book(late, soon(1), soon(60))
    services.reservation_pick_up(reservation_id=overdue.id)
    Reservation.objects.filter(id=overdue.id).update(
        ends_at=datetime.now(UTC) - timedelta(hours=1),
        period=Range(datetime.now(UTC) - DAY, datetime.now(UTC) - timedelta(minutes=30), "[)"),
    )
    with pytest.raises(errors.ClassUnavailable):  # the only other car should be back and is not
        book("COMPACT", FRIDAY, FRIDAY + DAY)
    assert selectors.overdue_holds().get().id == overdue.id


def test_the_same_request_again_is_answered_with_its_hold_and_another_with_that_id_is_a_conflict(car, service):
    rid = str(uuid.uuid4())
    body = {
        "id": rid,
        "vehicle_class": "COMPACT",
        "location": "TLV-AIR",
        "starts_at": "2031-03-07T09:00:00Z",
        "ends_at": "2031-03-08T09:00:00+00:00",
    }
    first = service.post("/api/v1/reservations/", body, format="json")
    assert first.status_code == 201 and first.json()["car_id"] == str(car.id)
    assert first.json()["ends_at"] == "2031-03-08T09:00:00Z" and first.json()["vehicle_class"] == "COMPACT"
    again = service.post("/api/v1/reservations/", {**body, "starts_at": "2031-03-07T11:00:00+02:00"}, format="json")
    assert again.status_code == 200 and again.json() == first.json()
    other = service.post("/api/v1/reservations/", {**body, "ends_at": "2031-03-09T09:00:00Z"}, format="json")
    assert_problem(other, 409, "reservation_conflict")
    walk_in = service.post("/api/v1/reservations/", {"id": rid, "car_id": str(car.id)}, format="json")
    assert_problem(walk_in, 409, "reservation_conflict")  # the same car, but now and open-ended: another request


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"vehicle_class": "COMPACT", "starts_at": "2031-03-07T09:00:00Z", "ends_at": "2031-03-08T09:00:00Z"},
         422, "invalid"),
        ({"vehicle_class": "COMPACT", "location": "TLV-AIR", "starts_at": "2031-03-07T09:00:00Z"}, 422, "invalid"),
        ({"location": "TLV-AIR", "starts_at": "2031-03-07T09:00:00Z", "ends_at": "2031-03-08T09:00:00Z"},
         422, "invalid"),
        ({"return_location": "TLV-AIR"}, 422, "invalid"),
        ({"vehicle_class": "NOPE", "location": "TLV-AIR", "starts_at": "2031-03-07T09:00:00Z",
          "ends_at": "2031-03-08T09:00:00Z"}, 422, "vehicle_class_not_found"),
        ({"vehicle_class": "COMPACT", "location": "NOPE", "starts_at": "2031-03-07T09:00:00Z",
          "ends_at": "2031-03-08T09:00:00Z"}, 422, "location_not_found"),
        ({"vehicle_class": "COMPACT", "location": "TLV-AIR", "starts_at": "2031-03-08T09:00:00Z",
          "ends_at": "2031-03-07T09:00:00Z"}, 422, "return_before_pickup"),
        ({"vehicle_class": "COMPACT", "location": "TLV-AIR", "starts_at": "2020-03-07T09:00:00Z",
          "ends_at": "2020-03-08T09:00:00Z"}, 422, "return_before_pickup"),
        ({"vehicle_class": "COMPACT", "location": "TLV-AIR", "starts_at": "2031-03-07 09:00",
          "ends_at": "2031-03-08T09:00:00Z"}, 400, "invalid"),
    ],
    ids=["class without branch", "window without end", "branch without class", "return branch alone",
         "unknown class", "unknown branch", "backwards window", "window over", "no offset"],
)  # fmt: skip
def test_a_reserve_body_that_names_no_car_is_refused_and_holds_nothing(car, service, body, status, code):
    names_a_car = code == "invalid" and "location" not in body and "vehicle_class" not in body
    car_body = {"car_id": str(car.id)} if names_a_car else {}
    answer = service.post("/api/v1/reservations/", {"id": str(uuid.uuid4()), **car_body, **body}, format="json")
    assert_problem(answer, status, code)
    assert not Reservation.objects.exists()


def test_a_walk_in_on_a_car_booked_ahead_is_refused_since_an_open_hold_overlaps_every_booking(car):
    book(car, FRIDAY, FRIDAY + DAY)
    with pytest.raises(errors.CarUnavailable):
        services.reservation_create(reservation_id=uuid.uuid4(), car_id=car.id)
    assert Car.objects.get(id=car.id).status == CarStatus.AVAILABLE


def test_pick_up_rents_the_car_records_the_odometer_and_is_idempotent(car, service):
    held = book(car, soon(5), soon(60 * 24))
    answer = service.post(f"/api/v1/reservations/{held.id}/pick-up/", {"odometer_km": 1010}, format="json")
    assert answer.status_code == 200 and answer.json()["picked_up_at"] is not None
    car.refresh_from_db()
    assert (car.status, car.odometer_km) == (CarStatus.RENTED, 1010)
    again = service.post(f"/api/v1/reservations/{held.id}/pick-up/", {"odometer_km": 1010}, format="json")
    assert again.status_code == 200 and again.json() == answer.json()


def test_pick_up_early_starts_the_hold_now_when_the_car_is_free_until_then(car):
    held = book(car, soon(90), soon(60 * 24))
    picked = services.reservation_pick_up(reservation_id=held.id)
    assert picked.period.lower < held.period.lower and picked.picked_up_at == picked.period.lower


def test_pick_up_too_early_is_not_started_and_changes_nothing(car, service):
    held = book(car, soon(60 * 5), soon(60 * 24))
    assert_problem(service.post(f"/api/v1/reservations/{held.id}/pick-up/", {}, format="json"), 409, "not_started")
    assert Car.objects.get(id=car.id).status == CarStatus.AVAILABLE
    assert Reservation.objects.get(id=held.id).picked_up_at is None


def test_pick_up_early_into_the_previous_hold_is_not_started(car):
    book(car, soon(1), soon(40))  # ends (with its turnaround) after the next one's early start
    held = book(car, soon(90), soon(60 * 24))
    with pytest.raises(errors.NotStarted):
        services.reservation_pick_up(reservation_id=held.id)
    assert Car.objects.get(id=car.id).status == CarStatus.AVAILABLE


def test_pick_up_while_the_previous_renter_is_late_is_car_not_returned_then_reassign_moves_the_hold(
    car, compact, branch, service
):
    first = book(car, soon(1), soon(60))
    services.reservation_pick_up(reservation_id=first.id)
    second = book(car, soon(100), soon(60 * 24))
    now = datetime.now(UTC)  # it should have been back five minutes ago
    Reservation.objects.filter(id=first.id).update(
        ends_at=now - timedelta(minutes=5), period=Range(now - DAY, now + timedelta(minutes=25), "[)")
    )
    pick_up = service.post(f"/api/v1/reservations/{second.id}/pick-up/", {}, format="json")
    assert_problem(pick_up, 409, "car_not_returned")
    assert_problem(
        service.post(f"/api/v1/reservations/{second.id}/reassign/", {"from_car_id": str(car.id)}, format="json"),
        409,
        "class_unavailable",
    )
    assert Reservation.objects.get(id=second.id).car_id == car.id  # nothing changed
    spare = CarFactory(vehicle_class=compact, location=branch)
    moved = service.post(f"/api/v1/reservations/{second.id}/reassign/", {"from_car_id": str(car.id)}, format="json")
    assert moved.status_code == 200 and moved.json()["car_id"] == str(spare.id)
    retried = service.post(f"/api/v1/reservations/{second.id}/reassign/", {"from_car_id": str(car.id)}, format="json")
    assert retried.status_code == 200 and retried.json()["car_id"] == str(spare.id)  # a retry moves nothing again
    services.reservation_pick_up(reservation_id=second.id)
    assert Car.objects.get(id=spare.id).status == CarStatus.RENTED


def test_extension_into_a_booked_window_is_a_conflict_and_changes_nothing(car, service):
    held = book(car, FRIDAY, FRIDAY + DAY)
    book(car, FRIDAY + 2 * DAY, FRIDAY + 3 * DAY)
    into = service.post(f"/api/v1/reservations/{held.id}/extend/", {"ends_at": "2031-03-09T09:00:00Z"}, format="json")
    assert_problem(into, 409, "extension_conflict")
    assert Reservation.objects.get(id=held.id).period == held.period
    fits = service.post(
        f"/api/v1/reservations/{held.id}/extend/", {"ends_at": "2031-03-09T08:30:00+00:00"}, format="json"
    )
    assert fits.status_code == 200 and fits.json()["ends_at"] == "2031-03-09T08:30:00Z"
    assert Reservation.objects.get(id=held.id).period.upper == FRIDAY + 2 * DAY  # 08:30 + 30 minutes turnaround
    shorter = service.post(
        f"/api/v1/reservations/{held.id}/extend/", {"ends_at": "2031-03-07T09:00:00Z"}, format="json"
    )
    assert_problem(shorter, 422, "return_before_pickup")


def test_release_after_pick_up_brings_the_car_back_with_its_odometer_at_the_return_branch(car, other_branch, service):
    held = book(car, soon(1), soon(60 * 24), return_location="TLV-CEN")
    assert held.return_location_code == "TLV-CEN"
    services.reservation_pick_up(reservation_id=held.id, odometer_km=1000)
    lower = service.post(f"/api/v1/reservations/{held.id}/release/", {"odometer_km": 999}, format="json")
    assert_problem(lower, 409, "odometer_decrease")
    assert Reservation.objects.get(id=held.id).state == ReservationState.ACTIVE  # nothing changed
    answer = service.post(
        f"/api/v1/reservations/{held.id}/release/", {"odometer_km": 1420, "location": "TLV-CEN"}, format="json"
    )
    assert answer.status_code == 200 and answer.json()["state"] == "released"
    car.refresh_from_db()
    assert (car.status, car.odometer_km, car.location_id) == (CarStatus.AVAILABLE, 1420, other_branch.id)
    released = Reservation.objects.get(id=held.id)
    assert released.period.upper - released.picked_up_at >= timedelta(minutes=30)  # its turnaround, for the record


def test_release_of_a_hold_never_picked_up_leaves_a_car_out_on_another_rental_alone(car):
    out = book(car, soon(1), soon(60))
    services.reservation_pick_up(reservation_id=out.id)
    later = book(car, FRIDAY, FRIDAY + DAY)
    released = services.reservation_release(reservation_id=later.id, odometer_km=5, location="TLV-AIR")
    assert released.state == ReservationState.RELEASED
    car.refresh_from_db()
    assert (car.status, car.odometer_km) == (CarStatus.RENTED, 1000)


def test_a_block_and_a_hold_never_overlap_but_may_touch(car, staff):
    book(car, FRIDAY, FRIDAY + DAY)  # away until Saturday 09:30 with its turnaround
    overlapping = staff.post(
        f"/api/v1/cars/{car.id}/blocks/",
        {"starts_at": "2031-03-08T09:00:00Z", "ends_at": "2031-03-09T09:00:00Z", "reason": "Tyres"},
        format="json",
    )
    assert_problem(overlapping, 409, "car_unavailable")
    touching = staff.post(
        f"/api/v1/cars/{car.id}/blocks/",
        {"starts_at": "2031-03-08T09:30:00Z", "ends_at": "2031-03-09T09:00:00Z", "reason": "Tyres"},
        format="json",
    )
    assert touching.status_code == 201 and touching.json()["kind"] == "block"
    with pytest.raises(errors.CarUnavailable):  # nor a rental into the block
        book(car, FRIDAY + 2 * DAY - timedelta(hours=1), FRIDAY + 3 * DAY)
    assert book(car, FRIDAY + 2 * DAY, FRIDAY + 3 * DAY).car_id == car.id  # right after it: blocks have no turnaround
    block_id = touching.json()["id"]
    assert staff.delete(f"/api/v1/cars/{car.id}/blocks/{block_id}/").status_code == 204
    assert staff.delete(f"/api/v1/cars/{car.id}/blocks/{block_id}/").status_code == 204  # twice: a no-op
    assert_problem(staff.delete(f"/api/v1/cars/{car.id}/blocks/{uuid.uuid4()}/"), 404, "block_not_found")
    assert book(car, FRIDAY + DAY + timedelta(hours=1), FRIDAY + DAY + timedelta(hours=5)).car_id == car.id


def test_blocks_are_not_the_booking_services_holds(car, staff, service):
    block = services.block_create(car_id=car.id, starts_at=FRIDAY, ends_at=FRIDAY + DAY, reason="Service")
    assert service.get("/api/v1/reservations/").json()["count"] == 0
    assert_problem(service.get(f"/api/v1/reservations/{block.id}/"), 404, "reservation_not_found")
    for action in ("release", "pick-up", "extend", "reassign"):
        answer = service.post(
            f"/api/v1/reservations/{block.id}/{action}/", {"ends_at": "2031-03-09T09:00:00Z"}, format="json"
        )
        assert_problem(answer, 404, "reservation_not_found")
    assert Reservation.objects.get(id=block.id).state == ReservationState.ACTIVE
    # and a reserve cannot take a block's id
    answer = service.post("/api/v1/reservations/", {"id": str(block.id), "car_id": str(car.id)}, format="json")
    assert_problem(answer, 409, "reservation_conflict")


def test_only_staff_block_cars_and_read_their_schedule(car, anon, service):
    body = {"starts_at": "2031-03-08T09:30:00Z", "ends_at": "2031-03-09T09:00:00Z", "reason": "Tyres"}
    assert_problem(anon.post(f"/api/v1/cars/{car.id}/blocks/", body, format="json"), 401, "not_authenticated")
    assert_problem(service.post(f"/api/v1/cars/{car.id}/blocks/", body, format="json"), 403, "permission_denied")
    schedule = f"/api/v1/cars/{car.id}/schedule/?from=2031-03-01T00:00:00Z&until=2031-03-15T00:00:00Z"
    assert_problem(anon.get(schedule), 401, "not_authenticated")
    assert_problem(service.get(schedule), 403, "permission_denied")


def test_the_schedule_lists_holds_and_blocks_in_the_window_earliest_first(car, staff):
    later = book(car, FRIDAY + 3 * DAY, FRIDAY + 4 * DAY)
    block = services.block_create(car_id=car.id, starts_at=FRIDAY, ends_at=FRIDAY + DAY, reason="Brake service")
    book(car, FRIDAY + 30 * DAY, FRIDAY + 31 * DAY)  # outside the window
    lifted = services.block_create(car_id=car.id, starts_at=FRIDAY + DAY, ends_at=FRIDAY + 2 * DAY, reason="x")
    services.block_delete(car_id=car.id, block_id=lifted.id)
    answer = staff.get(f"/api/v1/cars/{car.id}/schedule/?from=2031-03-07T00:00:00Z&until=2031-03-21T00:00:00Z")
    assert answer.status_code == 200
    rows = answer.json()
    assert [(row["id"], row["kind"]) for row in rows] == [(str(block.id), "block"), (str(later.id), "rental")]
    assert rows[0]["reason"] == "Brake service" and rows[1]["busy_until"] == "2031-03-11T09:30:00Z"
    assert rows[1]["overdue"] is False and rows[1]["vehicle_class"] == "COMPACT"
    backwards = staff.get(f"/api/v1/cars/{car.id}/schedule/?from=2031-03-21T00:00:00Z&until=2031-03-07T00:00:00Z")
    assert_problem(backwards, 422, "return_before_pickup")
    unknown = f"/api/v1/cars/{uuid.uuid4()}/schedule/?from=2031-03-07T00:00:00Z&until=2031-03-08T00:00:00Z"
    assert_problem(staff.get(unknown), 404, "car_not_found")
    assert_problem(staff.get(f"/api/v1/cars/{car.id}/schedule/"), 400, "invalid")


def test_a_dst_change_in_the_branchs_zone_never_moves_a_hold(branch, compact):
    """London falls back on 26 Oct 2031: 01:00–02:00 local happens twice. Holds are instants, so a rental that ends
    at the first 01:10 and one that starts at the second 01:10 (an hour later) do not overlap."""
    van = VehicleClass.objects.create(
        code="VAN", name="Van", seats=9, transmission="manual", turnaround_minutes=0, min_rental_minutes=0
    )
    london = Location.objects.create(code="LON-LHR", name="Heathrow", time_zone="Europe/London")
    car = CarFactory(vehicle_class=van, location=london)
    zone = ZoneInfo("Europe/London")
    first_0110 = datetime(2031, 10, 26, 1, 10, tzinfo=zone, fold=0)
    second_0110 = datetime(2031, 10, 26, 1, 10, tzinfo=zone, fold=1)
    assert second_0110 - first_0110 == timedelta(0)  # on the wall clock (Python compares naive times in one zone)
    assert second_0110.astimezone(UTC) - first_0110.astimezone(UTC) == timedelta(hours=1)  # in fact
    book(car, first_0110 - DAY, first_0110.astimezone(UTC), location="LON-LHR")
    after = book(car, second_0110.astimezone(UTC), second_0110.astimezone(UTC) + DAY, location="LON-LHR")
    assert after.car_id == car.id
    with pytest.raises(errors.CarUnavailable):
        book(car, first_0110.astimezone(UTC) - timedelta(minutes=1), first_0110.astimezone(UTC) + timedelta(minutes=5))


def test_no_two_holds_that_are_not_released_overlap_on_any_car_after_all_of_this(car, compact, branch):
    """The raw-SQL audit the race tests run, here after a mixed history on one branch."""
    spare = CarFactory(vehicle_class=compact, location=branch)
    for offset in range(4):  # two cars, two bookings a window, windows two days apart
        book("COMPACT", FRIDAY + 2 * offset * DAY, FRIDAY + (2 * offset + 1) * DAY)
        book("COMPACT", FRIDAY + 2 * offset * DAY, FRIDAY + (2 * offset + 1) * DAY)
    services.block_create(car_id=spare.id, starts_at=FRIDAY + 10 * DAY, ends_at=FRIDAY + 11 * DAY, reason="MOT")
    assert overlapping_holds() == []
    assert Reservation.objects.filter(kind=HoldKind.RENTAL).count() == 8


def overlapping_holds() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.id, b.id FROM fleet_reservation a JOIN fleet_reservation b "
            "ON a.car_id = b.car_id AND a.id < b.id AND a.period && b.period "
            "WHERE a.state <> 'released' AND b.state <> 'released'"
        )
        return cursor.fetchall()


@pytest.mark.parametrize(
    ("local", "is_open"),
    [
        ("2031-03-10 07:59", False),  # Monday, before opening
        ("2031-03-10 08:00", True),
        ("2031-03-10 19:59", True),
        ("2031-03-10 20:00", False),  # closes at 20:00: the interval is [08:00, 20:00)
        ("2031-03-14 23:30", True),  # Friday's night shift, 22:00 → 02:00
        ("2031-03-15 01:59", True),  # … still Friday's, on Saturday's calendar day
        ("2031-03-15 02:00", False),
        ("2031-03-16 12:00", False),  # Sunday: not listed, closed
    ],
)
def test_opening_hours_are_read_on_the_branchs_wall_clock_and_may_run_past_midnight(local, is_open):
    branch = Location(
        code="TLV-CEN",
        name="Centre",
        time_zone="Asia/Jerusalem",
        opening_hours={
            "mon": [["08:00", "20:00"]],
            "fri": [["08:00", "14:00"], ["22:00", "02:00"]],
        },
    )
    instant = datetime.fromisoformat(local).replace(tzinfo=ZoneInfo("Asia/Jerusalem"))
    assert branch.is_open_at(instant) is is_open
    assert branch.is_open_at(instant.astimezone(UTC)) is is_open  # the same instant in another zone


def test_a_window_outside_the_branchs_hours_or_shorter_than_the_class_minimum_is_422(car, branch, compact, service):
    branch.opening_hours = {day: [["08:00", "20:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    branch.save()
    compact.min_rental_minutes = 120
    compact.save()
    body = {"id": str(uuid.uuid4()), "vehicle_class": "COMPACT", "location": "TLV-AIR"}
    night = {"starts_at": "2031-03-07T02:00:00+02:00", "ends_at": "2031-03-08T10:00:00+02:00"}
    late_return = {"starts_at": "2031-03-07T10:00:00+02:00", "ends_at": "2031-03-08T21:00:00+02:00"}
    short = {"starts_at": "2031-03-07T10:00:00+02:00", "ends_at": "2031-03-07T11:59:00+02:00"}
    for window, code in (
        (night, "outside_opening_hours"),
        (late_return, "outside_opening_hours"),
        (short, "window_too_short"),
    ):
        assert_problem(service.post("/api/v1/reservations/", {**body, **window}, format="json"), 422, code)
    assert not Reservation.objects.exists()
    fits = {"starts_at": "2031-03-07T10:00:00+02:00", "ends_at": "2031-03-07T12:00:00+02:00"}
    assert service.post("/api/v1/reservations/", {**body, **fits}, format="json").status_code == 201


def test_reassign_to_a_chosen_car_at_the_branch_moves_the_hold_there_or_changes_nothing(car, branch, compact, service):
    suv = VehicleClass.objects.create(code="SUV", name="SUV", seats=7, transmission="automatic")
    upgrade = CarFactory(vehicle_class=suv, location=branch)
    held = book(car, FRIDAY, FRIDAY + DAY)
    book(upgrade, FRIDAY + timedelta(hours=20), FRIDAY + 2 * DAY)
    busy = service.post(f"/api/v1/reservations/{held.id}/reassign/", {"to_car_id": str(upgrade.id)}, format="json")
    assert_problem(busy, 409, "car_unavailable")
    assert Reservation.objects.get(id=held.id).car_id == car.id
    free = CarFactory(vehicle_class=suv, location=branch)
    moved = service.post(f"/api/v1/reservations/{held.id}/reassign/", {"to_car_id": str(free.id)}, format="json")
    assert moved.status_code == 200 and moved.json()["car_id"] == str(free.id)
    assert moved.json()["car_model"] == free.model and moved.json()["car_plate"] == free.plate
    elsewhere = service.post(
        f"/api/v1/reservations/{held.id}/reassign/", {"to_car_id": str(uuid.uuid4())}, format="json"
    )
    assert_problem(elsewhere, 422, "car_not_found")


def test_a_window_that_crosses_midnight_in_one_branchs_zone_and_not_in_anothers(compact):
    """One instant, two wall clocks: 23:30 on a Friday in London is 01:30 on Saturday in Tel Aviv. A late desk open
    Friday 22:00 → 02:00 takes the pick-up; an office open 08:00 → 20:00 on every day refuses it at the same instant."""
    london = Location.objects.create(
        code="LON-LHR", name="Heathrow", time_zone="Europe/London", opening_hours={"fri": [["22:00", "02:00"]]}
    )
    every_day = {day: [["08:00", "20:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    tel_aviv = Location.objects.create(
        code="TLV-CEN", name="Centre", time_zone="Asia/Jerusalem", opening_hours=every_day
    )
    for branch in (london, tel_aviv):
        CarFactory(vehicle_class=compact, location=branch)
    friday_night = datetime(2031, 3, 7, 23, 30, tzinfo=UTC)  # London is on GMT in March until the 30th
    assert friday_night.astimezone(ZoneInfo("Asia/Jerusalem")).strftime("%a %H:%M") == "Sat 01:30"
    back = friday_night + timedelta(hours=2)  # 01:30 in London, still Friday's night shift
    assert book("COMPACT", friday_night, back, location="LON-LHR", return_location="LON-LHR").car_id
    with pytest.raises(errors.OutsideOpeningHours):
        book("COMPACT", friday_night, back + timedelta(hours=8), location="TLV-CEN")
