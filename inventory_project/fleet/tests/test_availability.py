"""Which cars are free for a window: the car list's available_from/available_until and GET /availability/ per class
at a branch. One predicate decides both: available now, and no hold that is not released overlaps the window
with the class's turnaround after it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from psycopg.types.range import Range

from drivenow_contracts.testing import assert_problem
from fleet.models import CarStatus, Location, Reservation, ReservationState, Transmission, VehicleClass
from fleet.tests.factories import CarFactory

pytestmark = pytest.mark.django_db

MONDAY = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def branch() -> Location:
    return Location.objects.create(code="TLV-AIR", name="Tel Aviv Airport", time_zone="Asia/Jerusalem")


@pytest.fixture
def compact() -> VehicleClass:
    return VehicleClass.objects.create(
        code="COMPACT", name="Compact", seats=5, transmission=Transmission.MANUAL, turnaround_minutes=30
    )


def hold(car, starts_at: datetime, ends_at: datetime | None, state: str = ReservationState.ACTIVE) -> Reservation:
    """A hold as inventory stores it: [start, end) — an open end while it lasts (v1's walk-ins)."""
    if state == ReservationState.ACTIVE:
        ends_at = None
    return Reservation.objects.create(id=uuid.uuid4(), car=car, period=Range(starts_at, ends_at, "[)"), state=state)


def window(start: datetime, end: datetime) -> str:
    return f"available_from={start.isoformat()}&available_until={end.isoformat()}".replace("+", "%2B")


def free_ids(anon, start: datetime, end: datetime, extra: str = "") -> set[str]:
    answer = anon.get(f"/api/v1/cars/?{window(start, end)}&limit=200{extra}")
    assert answer.status_code == 200, answer.content
    return {car["id"] for car in answer.json()["results"]}


def test_a_car_released_before_the_window_and_its_turnaround_is_free(anon, branch, compact):
    car = CarFactory(vehicle_class=compact, location=branch)
    hold(car, MONDAY - timedelta(days=2), MONDAY - timedelta(minutes=30), ReservationState.RELEASED)
    assert free_ids(anon, MONDAY, MONDAY + timedelta(days=1)) == {str(car.id)}


def test_a_car_held_now_is_free_for_no_window_and_one_in_maintenance_neither(anon, branch, compact):
    held = CarFactory(vehicle_class=compact, location=branch, status=CarStatus.RENTED)
    hold(held, MONDAY - timedelta(days=1), None)  # a walk-in: open-ended until released
    CarFactory(vehicle_class=compact, location=branch, status=CarStatus.MAINTENANCE)
    CarFactory(vehicle_class=compact, location=branch, status=CarStatus.RETIRED)
    assert free_ids(anon, MONDAY + timedelta(days=30), MONDAY + timedelta(days=31)) == set()


def test_the_class_turnaround_follows_the_window(anon, branch, compact):
    # Holds that begin after our window [09:00, 17:00): one within the class's 30 minutes of turnaround, one after.
    too_soon = CarFactory(vehicle_class=compact, location=branch)
    hold(too_soon, MONDAY + timedelta(hours=8, minutes=20), None)
    after = CarFactory(vehicle_class=compact, location=branch)
    hold(after, MONDAY + timedelta(hours=8, minutes=30), None)  # the turnaround's end is open: back to back fits
    assert free_ids(anon, MONDAY, MONDAY + timedelta(hours=8), "&vehicle_class=COMPACT") == {str(after.id)}


def test_a_car_without_a_class_needs_no_turnaround(anon):
    car = CarFactory()
    hold(car, MONDAY + timedelta(hours=8), None)
    assert str(car.id) in free_ids(anon, MONDAY, MONDAY + timedelta(hours=8))
    assert str(car.id) not in free_ids(anon, MONDAY, MONDAY + timedelta(hours=8, minutes=1))


def test_one_bound_alone_means_from_then_on_or_from_now_until_then(anon):
    later = CarFactory()
    hold(later, MONDAY + timedelta(days=10), None)
    start, end = (moment.isoformat().replace("+", "%2B") for moment in (MONDAY, MONDAY + timedelta(days=5)))
    assert str(later.id) not in {c["id"] for c in anon.get(f"/api/v1/cars/?available_from={start}").json()["results"]}
    assert str(later.id) in {c["id"] for c in anon.get(f"/api/v1/cars/?available_until={end}").json()["results"]}
    assert_problem(anon.get("/api/v1/cars/?available_until=2001-01-01T00:00:00Z"), 422, "return_before_pickup")


def test_a_window_ends_after_it_starts_and_has_offsets(anon):
    assert_problem(anon.get(f"/api/v1/cars/?{window(MONDAY, MONDAY)}"), 422, "return_before_pickup")
    assert_problem(
        anon.get("/api/v1/cars/?available_from=2031-03-03T09:00:00&available_until=2031-03-04T09:00:00Z"),
        400,
        "invalid",
        "available_from",
    )
    assert_problem(
        anon.get("/api/v1/cars/?available_from=2031-02-30T09:00:00Z&available_until=2031-03-04T09:00:00Z"),
        400,
        "invalid",
        "available_from",
    )


def test_availability_counts_free_cars_per_class_at_the_branch(anon, branch, compact):
    suv = VehicleClass.objects.create(code="SUV", name="SUV", seats=7, transmission=Transmission.AUTOMATIC)
    elsewhere = Location.objects.create(code="LON-LHR", name="Heathrow", time_zone="Europe/London")
    free = [CarFactory(vehicle_class=compact, location=branch) for _ in range(3)]
    hold(free[0], MONDAY - timedelta(hours=1), None)
    CarFactory(vehicle_class=compact, location=elsewhere)
    CarFactory(vehicle_class=suv, location=elsewhere)
    query = f"location=TLV-AIR&pickup_at={MONDAY.isoformat()}&return_at={(MONDAY + timedelta(days=3)).isoformat()}"
    answer = anon.get("/api/v1/availability/?" + query.replace("+", "%2B"))
    assert answer.status_code == 200, answer.content
    assert answer.json() == [
        {"vehicle_class": "COMPACT", "available_cars": 2},
        {"vehicle_class": "SUV", "available_cars": 0},
    ]
    one = anon.get("/api/v1/availability/?" + query.replace("+", "%2B") + "&vehicle_class=SUV")
    assert one.json() == [{"vehicle_class": "SUV", "available_cars": 0}]


def test_availability_refuses_what_it_cannot_answer(anon, branch):
    when = f"pickup_at={MONDAY.isoformat()}&return_at={(MONDAY + timedelta(days=1)).isoformat()}".replace("+", "%2B")
    assert_problem(anon.get(f"/api/v1/availability/?location=NOWHERE&{when}"), 422, "location_not_found")
    assert_problem(
        anon.get(f"/api/v1/availability/?location=TLV-AIR&vehicle_class=NOPE&{when}"), 422, "vehicle_class_not_found"
    )
    assert_problem(anon.get(f"/api/v1/availability/?{when}"), 400, "invalid", "location")
    backwards = f"pickup_at={MONDAY.isoformat()}&return_at={MONDAY.isoformat()}".replace("+", "%2B")
    assert_problem(anon.get(f"/api/v1/availability/?location=TLV-AIR&{backwards}"), 422, "return_before_pickup")


def test_availability_is_refused_like_a_reserve_when_a_branch_is_closed_and_is_0_under_a_class_minimum(
    anon, branch, compact
):
    branch.opening_hours = {day: [["08:00", "20:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    branch.save()
    compact.min_rental_minutes = 180
    compact.save()
    CarFactory(vehicle_class=compact, location=branch)
    url = "/api/v1/availability/?location=TLV-AIR&pickup_at={}&return_at={}"
    night = anon.get(url.format("2031-03-03T03:00:00%2B02:00", "2031-03-04T10:00:00%2B02:00"))
    assert_problem(night, 422, "outside_opening_hours")
    short = anon.get(url.format("2031-03-03T10:00:00%2B02:00", "2031-03-03T12:00:00%2B02:00"))
    assert short.status_code == 200 and short.json() == [{"vehicle_class": "COMPACT", "available_cars": 0}]
    long_enough = anon.get(url.format("2031-03-03T10:00:00%2B02:00", "2031-03-03T13:00:00%2B02:00"))
    assert long_enough.json() == [{"vehicle_class": "COMPACT", "available_cars": 1}]
    Location.objects.create(code="TLV-CEN", name="Centre", time_zone="Asia/Jerusalem", opening_hours={"mon": []})
    closed_return = anon.get(
        url.format("2031-03-03T10:00:00%2B02:00", "2031-03-03T13:00:00%2B02:00") + "&return_location=TLV-CEN"
    )
    assert_problem(closed_return, 422, "outside_opening_hours")
