"""Bookings ahead (v2) against a live inventory: book a class at a branch for a window, pick up with readings
(another car when the booked one is late), return at another branch, cancel, extend, no-shows, overdue rentals
and their next bookings moved ahead of time, and what happens while inventory is down."""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from drivenow_contracts.testing import assert_problem, pg_port
from rentals import services
from rentals.models import Handover, OutboxMessage, OutboxStatus, Rental, RentalStatus
from rentals.relay import OutboxRelay, RelaySettings

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Fleet:
    branch: str
    other: str
    klass: str
    cars: list[str]


def _code() -> str:
    return f"B-{uuid.uuid4().hex[:8].upper()}"


@pytest.fixture
def fleet(inventory) -> Fleet:
    """A branch (always open), another one, and a class with two cars at the first (no minimum rental)."""
    branch, other, klass = _code(), _code(), _code()
    for code in (branch, other):
        body = {"code": code, "name": f"Branch {code}", "time_zone": "Europe/London"}
        assert inventory.staff_request("POST", "/api/v1/locations/", body).status_code == 201
    body = {"code": klass, "name": "Compact", "seats": 5, "transmission": "manual", "min_rental_minutes": 0}
    assert inventory.staff_request("POST", "/api/v1/vehicle-classes/", body).status_code == 201
    return Fleet(branch, other, klass, [_car(inventory, branch, klass) for _ in range(2)])


def _car(inventory, branch: str, klass: str) -> str:
    body = {"model": "Škoda Fabia", "year": 2024, "vehicle_class": klass, "location": branch, "plate": _code()[2:]}
    answer = inventory.staff_request("POST", "/api/v1/cars/", body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def book(staff, fleet: Fleet, customer, start: datetime, end: datetime, **extra):
    body = {
        "customer_id": str(customer.id),
        "vehicle_class": fleet.klass,
        "pickup_location": fleet.branch,
        "pickup_at": _iso(start),
        "return_at": _iso(end),
        **extra,
    }
    return staff.post("/api/v1/rentals/", {k: v for k, v in body.items() if v is not None}, format="json")


def soon(minutes: float) -> datetime:
    return timezone.now() + timedelta(minutes=minutes)


def _inventory_sql(inventory, sql: str, params: list) -> None:
    with psycopg.connect(
        host="127.0.0.1", port=pg_port(), user="drivenow", dbname=inventory.service.db_name, autocommit=True
    ) as conn:
        conn.execute(sql, params)


def _make_overdue(inventory, rental_id) -> None:
    """The rental should have been back ten minutes ago, in both services' books."""
    _inventory_sql(
        inventory,
        "UPDATE fleet_reservation SET ends_at = now() - interval '10 minutes', "
        "period = tstzrange(now() - interval '1 day', now() + interval '20 minutes') WHERE id = %s",
        [rental_id],
    )
    Rental.objects.filter(id=rental_id).update(
        pickup_at=timezone.now() - timedelta(days=1), return_at=timezone.now() - timedelta(minutes=10)
    )


def test_a_class_booked_ahead_is_reserved_with_the_car_inventory_chose_and_leaves_it_available(
    staff, fleet, customer, inventory
):
    answer = book(staff, fleet, customer, soon(60 * 24 * 3), soon(60 * 24 * 5), return_location=fleet.other)
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["status"] == "reserved" and body["car_id"] in fleet.cars
    assert body["car"] == {"id": body["car_id"], "model": "Škoda Fabia", "plate": body["car"]["plate"]}
    assert body["car"]["plate"] and body["vehicle_class"] == fleet.klass
    assert (body["pickup_location"], body["return_location"]) == (fleet.branch, fleet.other)
    assert body["started_at"] is None and body["picked_up_at"] is None and body["handovers"] == []
    assert inventory.reservation_state(body["id"]) == "active"
    assert inventory.car_status(body["car_id"]) == "available"  # future holds never change the state now


def test_when_no_car_of_the_class_is_free_the_booking_is_409_and_holds_nothing(staff, fleet, customer, inventory):
    start, end = soon(60 * 24), soon(60 * 48)
    assert book(staff, fleet, customer, start, end).status_code == 201
    assert book(staff, fleet, customer, start, end).status_code == 201
    third = book(staff, fleet, customer, start + timedelta(hours=1), end)
    assert_problem(third, 409, "class_unavailable")
    failed = Rental.objects.get(status=RentalStatus.FAILED)
    assert failed.failure_code == "class_unavailable" and failed.car_id is None
    assert inventory.reservation_state(failed.id) is None


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"pickup_at": "past"}, 422, "pickup_in_past"),
        ({"return_at": "before"}, 422, "return_before_pickup"),
        ({"vehicle_class": "NO-SUCH"}, 422, "vehicle_class_not_found"),
        ({"pickup_location": "NO-SUCH"}, 422, "location_not_found"),
        ({"pickup_location": None}, 422, "invalid"),
        ({"return_at": None}, 422, "invalid"),
        ({"car_id": "both"}, 422, "invalid"),
        ({"expected_return_at": "2099-01-01T00:00:00Z"}, 422, "invalid"),
        ({"pickup_at": "2099-01-01 10:00"}, 400, "invalid"),
    ],
    ids=["pickup in past", "return before pickup", "unknown class", "unknown branch", "no branch", "no return",
         "car and class", "expected_return_at too", "no offset"],
)  # fmt: skip
def test_a_booking_the_window_refuses_is_a_problem_and_holds_nothing(staff, fleet, customer, change, status, code):
    body = {
        "customer_id": str(customer.id),
        "vehicle_class": fleet.klass,
        "pickup_location": fleet.branch,
        "pickup_at": _iso(soon(60 * 24)),
        "return_at": _iso(soon(60 * 48)),
    }
    for name, value in change.items():
        if value is None:
            body.pop(name)
        elif value == "past":
            body[name] = _iso(soon(-60))
        elif value == "before":
            body[name] = _iso(soon(60 * 23))
        elif value == "both":
            body[name] = fleet.cars[0]
        else:
            body[name] = value
    assert_problem(staff.post("/api/v1/rentals/", body, format="json"), status, code)
    assert not Rental.objects.exclude(status=RentalStatus.FAILED).exists()


def test_a_branch_closed_at_pick_up_or_a_window_under_the_class_minimum_is_422(staff, customer, inventory):
    closed, klass = _code(), _code()
    hours = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    body = {"code": closed, "name": "Office hours", "time_zone": "Europe/London", "opening_hours": hours}
    assert inventory.staff_request("POST", "/api/v1/locations/", body).status_code == 201
    body = {"code": klass, "name": "Van", "seats": 9, "transmission": "manual", "min_rental_minutes": 240}
    assert inventory.staff_request("POST", "/api/v1/vehicle-classes/", body).status_code == 201
    _car(inventory, closed, klass)
    fleet = Fleet(closed, closed, klass, [])
    day = (timezone.now() + timedelta(days=7)).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    night = day.replace(hour=2)
    answer = book(staff, fleet, customer, night, night + timedelta(hours=10))
    assert_problem(answer, 422, "outside_opening_hours")
    short = day.replace(hour=10)
    assert_problem(book(staff, fleet, customer, short, short + timedelta(hours=3)), 422, "window_too_short")
    assert book(staff, fleet, customer, short, short + timedelta(hours=4)).status_code == 201


def test_a_booking_at_a_quote_keeps_its_price_and_a_stale_or_other_quote_is_422_holding_nothing(
    staff, fleet, customer, inventory
):
    from pricing.models import Quote
    from pricing.services import rate_plan_create

    rate_plan_create(
        vehicle_class=fleet.klass, currency="EUR", hour=1_000, day=6_000, week=30_000, valid_from=soon(-60)
    )
    start = soon(60 * 24).replace(second=0, microsecond=0)
    end = start + timedelta(days=2)
    body = {"vehicle_class": fleet.klass, "pickup_location": fleet.branch, "pickup_at": _iso(start)}
    quote = staff.post("/api/v1/quotes/", {**body, "return_at": _iso(end)}, format="json").json()
    booked = book(staff, fleet, customer, start, end, quote_id=quote["id"])
    assert booked.status_code == 201, booked.content
    assert (booked.json()["quote_id"], booked.json()["price"], booked.json()["currency"]) == (
        quote["id"],
        12_000,
        "EUR",
    )
    assert staff.get(f"/api/v1/rentals/{booked.json()['id']}/").json()["price"] == 12_000
    ledger = staff.get(f"/api/v1/rentals/{booked.json()['id']}/charges/").json()  # the quote's lines, copied
    assert [(c["kind"], c["quantity"], c["amount"], c["rule"]) for c in ledger] == [
        (line["kind"], line["quantity"], line["amount"], line["rule"]) for line in quote["lines"]
    ]
    before = Rental.objects.count()
    assert_problem(
        book(staff, fleet, customer, start, end + timedelta(hours=1), quote_id=quote["id"]), 422, "quote_mismatch"
    )
    assert_problem(book(staff, fleet, customer, start, end, quote_id=str(uuid.uuid4())), 422, "quote_not_found")
    Quote.objects.filter(id=quote["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_problem(book(staff, fleet, customer, start, end, quote_id=quote["id"]), 422, "quote_expired")
    assert Rental.objects.count() == before  # refused before a rental was opened or a car asked for
    # Without a quote the booking is priced as a quote would price it now, with a quote of its own.
    plain = book(staff, fleet, customer, start, end)
    assert plain.status_code == 201 and plain.json()["price"] == 12_000
    assert plain.json()["quote_id"] not in (None, quote["id"])


def test_pick_up_with_readings_then_a_late_one_way_return_with_readings(staff, fleet, customer, inventory):
    booked = book(staff, fleet, customer, soon(5), soon(60 * 24), return_location=fleet.other).json()
    picked = staff.post(
        f"/api/v1/rentals/{booked['id']}/pick-up/", {"odometer_km": 1200, "fuel_eighths": 8}, format="json"
    )
    assert picked.status_code == 200, picked.content
    body = picked.json()
    assert body["status"] == "active" and body["picked_up_at"] and body["started_at"] == body["picked_up_at"]
    assert [(h["kind"], h["odometer_km"], h["fuel_eighths"]) for h in body["handovers"]] == [("out", 1200, 8)]
    assert body["handovers"][0]["staff_user"] == "desk-staff"
    assert inventory.car_status(booked["car_id"]) == "rented"
    again = staff.post(
        f"/api/v1/rentals/{booked['id']}/pick-up/", {"odometer_km": 1200, "fuel_eighths": 8}, format="json"
    )
    assert again.status_code == 200 and again.json()["handovers"] == body["handovers"]  # idempotent

    ended = staff.post(
        f"/api/v1/rentals/{booked['id']}/end/",
        {
            "odometer_km": 1650,
            "fuel_eighths": 5,
            "damage": "Scratch on the rear bumper",
            "return_location": fleet.other,
        },
        format="json",
    )
    assert ended.status_code == 200, ended.content
    body = ended.json()
    assert body["status"] == "completed" and body["return_location"] == fleet.other
    assert [(h["kind"], h["odometer_km"], h["fuel_eighths"], h["location"]) for h in body["handovers"]] == [
        ("out", 1200, 8, fleet.branch),
        ("in", 1650, 5, fleet.other),
    ]
    car = inventory.staff_request("GET", f"/api/v1/cars/{booked['car_id']}/").json()
    assert (car["status"], car["odometer_km"], car["location"]) == ("available", 1650, fleet.other)


def _priced(fleet, **plan):
    from pricing.services import rate_plan_create

    fields = {"currency": "EUR", "hour": 1_000, "day": 6_000, "week": 30_000, "valid_from": soon(-60 * 24 * 7), **plan}
    return rate_plan_create(vehicle_class=fleet.klass, **fields)


def _ledger(staff, rental_id) -> list[tuple[str, int, int]]:
    return [(c["kind"], c["quantity"], c["amount"]) for c in staff.get(f"/api/v1/rentals/{rental_id}/charges/").json()]


def test_a_late_one_way_return_with_km_and_fuel_to_pay_is_billed_once_from_its_readings(
    staff, fleet, customer, inventory
):
    _priced(fleet, km_per_day=100, per_extra_km=30, fuel_per_eighth=1_200, one_way_fee=4_000)
    start = soon(5).replace(second=0, microsecond=0)
    end = start + timedelta(days=1)
    body = {"vehicle_class": fleet.klass, "pickup_location": fleet.branch, "pickup_at": _iso(start)}
    quote = staff.post("/api/v1/quotes/", {**body, "return_at": _iso(end)}, format="json").json()
    booked = book(staff, fleet, customer, start, end, quote_id=quote["id"]).json()
    readings = {"odometer_km": 1_000, "fuel_eighths": 8}
    assert staff.post(f"/api/v1/rentals/{booked['id']}/pick-up/", readings, format="json").status_code == 200
    # Due back 2 h 58 min ago, in both books: 3 started hours late.
    _inventory_sql(
        inventory,
        "UPDATE fleet_reservation SET ends_at = now() - interval '3 hours', "
        "period = tstzrange(now() - interval '1 day', now() + interval '1 hour') WHERE id = %s",
        [booked["id"]],
    )
    due = timezone.now() - timedelta(hours=2, minutes=58)
    Rental.objects.filter(id=booked["id"]).update(pickup_at=due - timedelta(days=1), return_at=due)
    back = {"odometer_km": 1_250, "fuel_eighths": 5, "return_location": fleet.other}
    ended = staff.post(f"/api/v1/rentals/{booked['id']}/end/", back, format="json")
    assert ended.status_code == 200, ended.content
    expected = [
        ("rental", 1, 6_000),  # the quote's day
        ("late_return", 3, 3_000),  # 3 started hours late
        ("mileage", 150, 4_500),  # 250 km driven, 100 included (1 booked day)
        ("fuel", 3, 3_600),  # 3 eighths missing
        ("one_way", 1, 4_000),  # returned at another branch than it left from
    ]
    assert _ledger(staff, booked["id"]) == expected
    assert ended.json()["price"] == sum(amount for _, _, amount in expected)
    # Ending again answers the completed rental and bills nothing twice.
    assert staff.post(f"/api/v1/rentals/{booked['id']}/end/", back, format="json").status_code == 200
    assert _ledger(staff, booked["id"]) == expected


def test_an_extension_is_billed_as_the_stretch_it_adds_or_refused_when_no_plan_prices_it(
    staff, fleet, customer, inventory
):
    _priced(fleet, valid_until=soon(60 * 24 * 4))
    start = soon(60 * 24).replace(second=0, microsecond=0)
    end = start + timedelta(days=1)
    body = {"vehicle_class": fleet.klass, "pickup_location": fleet.branch, "pickup_at": _iso(start)}
    quote = staff.post("/api/v1/quotes/", {**body, "return_at": _iso(end)}, format="json").json()
    booked = book(staff, fleet, customer, start, end, quote_id=quote["id"]).json()
    url = f"/api/v1/rentals/{booked['id']}/extend/"
    longer = staff.post(url, {"return_at": _iso(end + timedelta(days=1))}, format="json")
    assert longer.status_code == 200, longer.content
    assert _ledger(staff, booked["id"]) == [("rental", 1, 6_000), ("rental", 1, 6_000)]
    assert longer.json()["price"] == 12_000
    again = staff.post(url, {"return_at": _iso(end + timedelta(days=1))}, format="json")  # the same return: no more
    assert again.status_code == 200 and again.json()["price"] == 12_000
    # Past the plan's validity nothing prices the stretch: 422, and neither service moved the return.
    beyond = staff.post(url, {"return_at": _iso(end + timedelta(days=9))}, format="json")
    assert_problem(beyond, 422, "no_rate_plan")
    assert Rental.objects.get(id=booked["id"]).return_at == end + timedelta(days=1)
    assert inventory.client().get_reservation(booked["id"]).ends_at == end + timedelta(days=1)


def test_a_cancel_credits_the_price_back_and_keeps_the_policys_share_inside_the_free_window(
    staff, fleet, customer, inventory
):
    _priced(fleet)
    ledgers = []
    for hours_ahead in (24 * 7, 24):  # free until 48 hours before the pick-up, then 50 % kept
        start = soon(60 * hours_ahead).replace(second=0, microsecond=0)
        end = start + timedelta(days=2)
        body = {"vehicle_class": fleet.klass, "pickup_location": fleet.branch, "pickup_at": _iso(start)}
        quote = staff.post("/api/v1/quotes/", {**body, "return_at": _iso(end)}, format="json").json()
        booked = book(staff, fleet, customer, start, end, quote_id=quote["id"]).json()
        cancelled = staff.post(f"/api/v1/rentals/{booked['id']}/cancel/")
        assert cancelled.status_code == 200, cancelled.content
        assert staff.post(f"/api/v1/rentals/{booked['id']}/cancel/").status_code == 200  # again: nothing more
        ledgers.append((_ledger(staff, booked["id"]), cancelled.json()["price"]))
    assert ledgers == [
        ([("rental", 2, 12_000), ("cancellation", 1, -12_000)], 0),
        ([("rental", 2, 12_000), ("cancellation", 1, -12_000), ("cancellation", 1, 6_000)], 6_000),
    ]
    # What staff charged on the booking is not the booking's price: a cancel leaves it as it is.
    start = soon(60 * 24 * 7).replace(second=0, microsecond=0)
    body = {"vehicle_class": fleet.klass, "pickup_location": fleet.branch, "pickup_at": _iso(start)}
    quote = staff.post("/api/v1/quotes/", {**body, "return_at": _iso(start + timedelta(days=1))}, format="json")
    booked = book(staff, fleet, customer, start, start + timedelta(days=1), quote_id=quote.json()["id"]).json()
    damage = {"kind": "damage", "description": "Chipped windscreen at the desk", "amount": 45_000}
    assert staff.post(f"/api/v1/rentals/{booked['id']}/charges/", damage, format="json").status_code == 201
    assert staff.post(f"/api/v1/rentals/{booked['id']}/cancel/").json()["price"] == 45_000


def test_pick_up_while_the_booked_car_is_still_out_moves_to_another_car_or_is_409(staff, fleet, customer, inventory):
    first_car, second_car = fleet.cars
    _inventory_sql(inventory, "UPDATE fleet_car SET status = 'maintenance' WHERE id = %s", [second_car])
    late = book(staff, fleet, customer, soon(2), soon(60)).json()
    staff.post(f"/api/v1/rentals/{late['id']}/pick-up/", {"odometer_km": 10, "fuel_eighths": 8}, format="json")
    next_one = book(staff, fleet, customer, soon(100), soon(60 * 24)).json()
    assert next_one["car_id"] == first_car
    _make_overdue(inventory, late["id"])  # an overdue car takes no new bookings: this one was made before
    readings = {"odometer_km": 20, "fuel_eighths": 8}
    refused = staff.post(f"/api/v1/rentals/{next_one['id']}/pick-up/", readings, format="json")
    assert_problem(refused, 409, "class_unavailable")
    assert Rental.objects.get(id=next_one["id"]).status == RentalStatus.RESERVED  # nothing changed
    _inventory_sql(inventory, "UPDATE fleet_car SET status = 'available' WHERE id = %s", [second_car])
    picked = staff.post(f"/api/v1/rentals/{next_one['id']}/pick-up/", readings, format="json")
    assert picked.status_code == 200, picked.content
    assert picked.json()["car_id"] == second_car and picked.json()["status"] == "active"
    assert inventory.car_status(second_car) == "rented" and inventory.car_status(first_car) == "rented"


def test_cancel_releases_a_booking_and_only_a_booking(staff, fleet, customer, inventory):
    booked = book(staff, fleet, customer, soon(60 * 24), soon(60 * 48)).json()
    cancelled = staff.post(f"/api/v1/rentals/{booked['id']}/cancel/", format="json")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert inventory.reservation_state(booked["id"]) == "released"
    assert staff.post(f"/api/v1/rentals/{booked['id']}/cancel/", format="json").status_code == 200
    assert_problem(staff.post(f"/api/v1/rentals/{booked['id']}/pick-up/", {"odometer_km": 1, "fuel_eighths": 8},
                              format="json"), 409, "rental_not_reserved")  # fmt: skip
    walk_in = staff.post(
        "/api/v1/rentals/",
        {"car_id": _car(inventory, fleet.branch, fleet.klass), "customer_id": str(customer.id)},
        format="json",
    ).json()
    assert_problem(staff.post(f"/api/v1/rentals/{walk_in['id']}/cancel/", format="json"), 409, "rental_not_reserved")


def test_extension_into_the_next_booking_is_409_and_changes_nothing(staff, fleet, customer, inventory):
    start = soon(60 * 24)
    first = book(staff, fleet, customer, start, start + timedelta(days=1), car_id=fleet.cars[0], vehicle_class=None)
    assert first.status_code == 201, first.content
    first = first.json()
    later = start + timedelta(days=3)
    after = book(staff, fleet, customer, later, later + timedelta(days=1), car_id=fleet.cars[0], vehicle_class=None)
    assert after.status_code == 201
    into = staff.post(f"/api/v1/rentals/{first['id']}/extend/", {"return_at": _iso(later)}, format="json")
    assert_problem(into, 409, "extension_conflict")
    assert Rental.objects.get(id=first["id"]).return_at == start + timedelta(days=1)
    fits = start + timedelta(days=2)
    moved = staff.post(f"/api/v1/rentals/{first['id']}/extend/", {"return_at": _iso(fits)}, format="json")
    assert moved.status_code == 200 and moved.json()["return_at"] == _iso(fits)
    assert inventory.client().get_reservation(first["id"]).ends_at == fits


def _extend_at_once(barrier: threading.Barrier, failures: list, rental_id: uuid.UUID, end: datetime) -> None:
    try:
        barrier.wait()
        services.rental_extend(rental_id=rental_id, return_at=end)
    except BaseException as exc:
        failures.append(exc)
    finally:
        connection.close()


def test_extends_of_one_rental_racing_leave_both_services_with_the_same_return(
    staff, fleet, customer, inventory, monkeypatch
):
    """Eight threads extend one booking to eight different returns at once, three rounds: whichever wins, the rental
    and inventory's hold end at the same time (each extend reaches both databases in the same order). Inventory's
    answers come back after a random delay of up to 30 ms, as over a busy network: without the ordering, an
    earlier extend's answer arriving after a later one's left the rental on the earlier return."""
    real_client = services.inventory_client

    def slow_answers():
        client = real_client()
        extend = client.extend

        def extend_then_wait(*args, **kwargs):
            answer = extend(*args, **kwargs)
            time.sleep(random.uniform(0, 0.03))
            return answer

        client.extend = extend_then_wait
        return client

    monkeypatch.setattr(services, "inventory_client", slow_answers)
    start = soon(60 * 24)
    booked = book(staff, fleet, customer, start, start + timedelta(hours=2), car_id=fleet.cars[0], vehicle_class=None)
    assert booked.status_code == 201, booked.content
    rental_id = uuid.UUID(booked.json()["id"])
    for round_ in range(3):
        ends = [start + timedelta(hours=3 + round_, minutes=5 * i) for i in range(8)]
        failures: list[BaseException] = []
        barrier = threading.Barrier(len(ends))
        threads = [threading.Thread(target=_extend_at_once, args=(barrier, failures, rental_id, end)) for end in ends]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        rental = Rental.objects.get(id=rental_id)
        assert rental.return_at in ends
        assert inventory.client().get_reservation(str(rental_id)).ends_at == rental.return_at, round_


def test_a_booking_not_picked_up_in_the_grace_is_a_no_show_and_frees_its_car(staff, fleet, customer, inventory):
    booked = book(staff, fleet, customer, soon(2), soon(60 * 24)).json()
    Rental.objects.filter(id=booked["id"]).update(pickup_at=timezone.now() - timedelta(minutes=61))
    OutboxRelay(RelaySettings.from_settings()).run_once()
    OutboxRelay(RelaySettings.from_settings()).deliver_due()
    assert Rental.objects.get(id=booked["id"]).status == RentalStatus.NO_SHOW
    assert inventory.reservation_state(booked["id"]) == "released"
    assert _ledger(staff, booked["id"]) == []  # booked without a price: nothing to keep
    # the car is free again for the next customer, for that very window
    assert book(staff, fleet, customer, soon(3), soon(60 * 24)).json()["car_id"] in fleet.cars


def test_a_no_show_keeps_the_policys_share_of_the_price(staff, fleet, customer, inventory):
    _priced(fleet)
    start = soon(2).replace(second=0, microsecond=0)
    end = start + timedelta(days=1)
    body = {"vehicle_class": fleet.klass, "pickup_location": fleet.branch, "pickup_at": _iso(start)}
    quote = staff.post("/api/v1/quotes/", {**body, "return_at": _iso(end)}, format="json").json()
    booked = book(staff, fleet, customer, start, end, quote_id=quote["id"]).json()
    Rental.objects.filter(id=booked["id"]).update(pickup_at=timezone.now() - timedelta(minutes=61))
    for _ in range(2):  # a second sweep finds nothing to do
        OutboxRelay(RelaySettings.from_settings()).run_once()
    assert Rental.objects.get(id=booked["id"]).status == RentalStatus.NO_SHOW
    assert _ledger(staff, booked["id"]) == [("rental", 1, 6_000), ("no_show", 1, -6_000), ("no_show", 1, 6_000)]
    assert Rental.objects.get(id=booked["id"]).price == 6_000  # BOOKING_NO_SHOW_PERCENT: 100


def test_an_overdue_rental_is_listed_counted_and_its_cars_next_booking_moves_ahead_of_time(
    staff, fleet, customer, inventory, client
):
    first_car, second_car = fleet.cars
    late = book(staff, fleet, customer, soon(2), soon(60), car_id=first_car, vehicle_class=None).json()
    staff.post(f"/api/v1/rentals/{late['id']}/pick-up/", {"odometer_km": 10, "fuel_eighths": 8}, format="json")
    next_one = book(staff, fleet, customer, soon(100), soon(60 * 24), car_id=first_car, vehicle_class=None).json()
    far = book(staff, fleet, customer, soon(60 * 24 * 3), soon(60 * 24 * 4), car_id=first_car, vehicle_class=None)
    assert far.status_code == 201
    _make_overdue(inventory, late["id"])
    listed = staff.get("/api/v1/rentals/?overdue=true").json()
    assert [row["id"] for row in listed["results"]] == [late["id"]]
    assert late["id"] not in {row["id"] for row in staff.get("/api/v1/rentals/?overdue=false").json()["results"]}
    assert "booking_rentals_overdue 1.0" in client.get("/metrics").content.decode()

    # next_one is a booking by car (v2's car_id), yet it is moved: the customer wants a car, not that one
    Rental.objects.filter(id=next_one["id"]).update(vehicle_class=fleet.klass)
    assert services.rentals_reassign_ahead(ahead=timedelta(minutes=120)) == 1
    moved = Rental.objects.get(id=next_one["id"])
    assert str(moved.car_id) == second_car and moved.car_plate
    assert str(Rental.objects.get(id=far.json()["id"]).car_id) == first_car  # not near yet: left alone
    assert str(inventory.client().get_reservation(next_one["id"]).car_id) == second_car


def test_while_inventory_is_down_a_booking_is_503_with_nothing_held_and_a_cancel_is_delivered_later(
    staff, fleet, customer, inventory, inventory_down, point_inventory
):
    refused = book(staff, fleet, customer, soon(60 * 24), soon(60 * 48))
    assert_problem(refused, 503, "inventory_unavailable")
    assert Rental.objects.get().status == RentalStatus.FAILED
    point_inventory(inventory.url, inventory.service_token)
    booked = book(staff, fleet, customer, soon(60 * 24), soon(60 * 48)).json()
    point_inventory(inventory_down, "any-token")
    assert_problem(
        staff.post(f"/api/v1/rentals/{booked['id']}/extend/", {"return_at": _iso(soon(60 * 50))}, format="json"),
        503,
        "inventory_unavailable",
    )
    cancelled = staff.post(f"/api/v1/rentals/{booked['id']}/cancel/", format="json")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert inventory.reservation_state(booked["id"]) == "active"  # not yet
    point_inventory(inventory.url, inventory.service_token)
    OutboxMessage.objects.update(next_attempt_at=timezone.now())
    OutboxRelay(RelaySettings.from_settings()).deliver_due()
    assert inventory.reservation_state(booked["id"]) == "released"
    assert not OutboxMessage.objects.filter(status=OutboxStatus.PENDING).exists()


def test_handovers_are_one_per_kind_and_fuel_is_eighths(staff, fleet, customer):
    booked = book(staff, fleet, customer, soon(5), soon(60 * 24)).json()
    too_full = staff.post(
        f"/api/v1/rentals/{booked['id']}/pick-up/", {"odometer_km": 1, "fuel_eighths": 9}, format="json"
    )
    assert_problem(too_full, 400, "invalid", "fuel_eighths")
    assert not Handover.objects.exists()


def test_pick_up_of_a_car_taken_out_of_service_since_the_booking_moves_to_another_car(
    staff, fleet, customer, inventory
):
    booked = book(staff, fleet, customer, soon(5), soon(60 * 24)).json()
    other = next(car for car in fleet.cars if car != booked["car_id"])
    changed = inventory.staff_request("PATCH", f"/api/v1/cars/{booked['car_id']}/", {"status": "maintenance"})
    assert changed.status_code == 200
    picked = staff.post(
        f"/api/v1/rentals/{booked['id']}/pick-up/", {"odometer_km": 5, "fuel_eighths": 8}, format="json"
    )
    assert picked.status_code == 200 and picked.json()["car_id"] == other
    assert inventory.car_status(other) == "rented"


def test_a_pick_up_in_progress_keeps_a_cancel_and_the_no_show_sweep_away_until_its_claim_goes_stale(
    staff, fleet, customer, inventory
):
    booked = book(staff, fleet, customer, soon(5), soon(60 * 24)).json()
    Rental.objects.filter(id=booked["id"]).update(
        pickup_claimed_at=timezone.now(), pickup_at=timezone.now() - timedelta(hours=2)
    )  # the desk is handing the car over right now, two hours late
    assert_problem(staff.post(f"/api/v1/rentals/{booked['id']}/cancel/", format="json"), 409, "rental_not_reserved")
    assert services.rental_sweep_no_shows(grace=timedelta(minutes=60)) == 0
    assert Rental.objects.get(id=booked["id"]).status == RentalStatus.RESERVED
    Rental.objects.filter(id=booked["id"]).update(pickup_claimed_at=timezone.now() - timedelta(minutes=10))
    assert services.rental_sweep_no_shows(grace=timedelta(minutes=60)) == 1  # a claim left by a crash lets go


def test_a_cancel_never_frees_a_car_that_inventory_handed_over(staff, fleet, customer, inventory):
    """Inventory picked the car up but booking never heard (the answer was lost): booking still says reserved. The
    cancel's release says `unless_picked_up`, so inventory refuses it; the message is dead, for a person."""
    booked = book(staff, fleet, customer, soon(5), soon(60 * 24)).json()
    inventory.client().pick_up(booked["id"])
    cancelled = staff.post(f"/api/v1/rentals/{booked['id']}/cancel/", format="json")
    assert cancelled.status_code == 200
    OutboxMessage.objects.update(next_attempt_at=timezone.now())
    OutboxRelay(RelaySettings.from_settings()).deliver_due()
    message = OutboxMessage.objects.get(reservation_id=booked["id"])
    assert message.status == OutboxStatus.DEAD and "reservation_conflict" in message.last_error
    assert inventory.car_status(booked["car_id"]) == "rented" and inventory.reservation_state(booked["id"]) == "active"


def test_a_pick_up_of_a_hold_released_behind_bookings_back_is_a_409_not_a_crash(staff, fleet, customer, inventory):
    booked = book(staff, fleet, customer, soon(5), soon(60 * 24)).json()
    inventory.client().release(booked["id"])
    refused = staff.post(
        f"/api/v1/rentals/{booked['id']}/pick-up/", {"odometer_km": 1, "fuel_eighths": 8}, format="json"
    )
    assert_problem(refused, 409, "reservation_conflict")
    rental = Rental.objects.get(id=booked["id"])
    assert rental.status == RentalStatus.RESERVED and rental.pickup_claimed_at is None  # the claim is let go


def test_a_booking_by_class_without_a_quote_is_priced_as_a_quote_would_be_and_unpriced_without_a_plan(
    staff, fleet, customer, inventory
):
    start = soon(60 * 24).replace(second=0, microsecond=0)
    unpriced = book(staff, fleet, customer, start, start + timedelta(days=1))
    assert unpriced.status_code == 201 and unpriced.json()["price"] is None  # no plan prices the class yet
    _priced(fleet)
    later = start + timedelta(days=2)
    priced = book(staff, fleet, customer, later, later + timedelta(days=1, hours=2))
    assert priced.status_code == 201, priced.content
    assert (priced.json()["price"], priced.json()["currency"]) == (8_000, "EUR")  # a day and two hours
    assert _ledger(staff, priced.json()["id"]) == [("rental", 1, 6_000), ("rental", 2, 2_000)]
