"""Payments in a rental's life, against a live inventory: the deposit at pick-up (the car stays when it is
declined), the capture at the return (also when the provider is down at that moment), the refund of a cancelled
prepaid booking and the no-show's fee taken from the deposit."""

from __future__ import annotations

from datetime import timedelta

import pytest

from drivenow_contracts.testing import assert_problem
from payments.models import FakeIntent, Payment, PaymentStatus
from rentals.models import Rental, RentalStatus
from rentals.relay import OutboxRelay, RelaySettings
from rentals.tests import test_bookings
from rentals.tests.test_bookings import _iso, _priced, book, soon

from .support import pending_calls, relay_once

pytestmark = pytest.mark.django_db(transaction=True)
READINGS = {"odometer_km": 1_000, "fuel_eighths": 8}
fleet = test_bookings.fleet  # the bookings' fixture: a branch, another one, a class with two cars


def quoted_booking(staff, fleet, customer, *, start, days: int = 1) -> dict:
    end = start + timedelta(days=days)
    body = {"vehicle_class": fleet.klass, "pickup_location": fleet.branch, "pickup_at": _iso(start)}
    quote = staff.post("/api/v1/quotes/", {**body, "return_at": _iso(end)}, format="json").json()
    booked = book(staff, fleet, customer, start, end, quote_id=quote["id"])
    assert booked.status_code == 201, booked.content
    return booked.json()


@pytest.fixture
def deposits(settings):
    settings.BOOKING_DEPOSIT_REQUIRED = True


def test_the_car_leaves_only_with_a_deposit_and_the_return_captures_the_final_total(
    staff, fleet, customer, inventory, deposits
):
    _priced(fleet, km_per_day=100, per_extra_km=30)
    booked = quoted_booking(staff, fleet, customer, start=soon(5).replace(second=0, microsecond=0))
    assert booked["price"] == 6_000
    url = f"/api/v1/rentals/{booked['id']}/pick-up/"
    assert_problem(staff.post(url, READINGS, format="json"), 402, "payment_required")
    declined = staff.post(url, {**READINGS, "payment_method": "tok_decline"}, format="json")
    assert_problem(declined, 402, "payment_declined")
    # Neither refusal handed the car out: the booking is reserved in both services, and may be picked up again.
    assert Rental.objects.get(id=booked["id"]).status == RentalStatus.RESERVED
    assert inventory.car_status(booked["car_id"]) != "rented"
    picked = staff.post(url, {**READINGS, "payment_method": "tok_visa"}, format="json")
    assert picked.status_code == 200, picked.content
    assert inventory.car_status(booked["car_id"]) == "rented"
    deposit = Payment.objects.get(rental_id=booked["id"], status=PaymentStatus.AUTHORIZED)
    assert deposit.amount == 7_200  # the price and its 20 % margin

    back = {"odometer_km": 1_150, "fuel_eighths": 8}  # 50 km over the day's 100: 1 500 more
    ended = staff.post(f"/api/v1/rentals/{booked['id']}/end/", back, format="json")
    assert ended.status_code == 200 and ended.json()["price"] == 7_500
    relay_once()
    deposit.refresh_from_db()
    # 7 500 owed, 7 200 held: all of it captured, and 300 is still due (a charge takes it).
    assert (deposit.status, deposit.captured) == (PaymentStatus.CAPTURED, 7_200)
    rest = staff.post(f"/api/v1/rentals/{booked['id']}/payments/", {"purpose": "charge"}, format="json")
    assert rest.status_code == 201 and rest.json()["amount"] == 300


def test_with_the_provider_down_the_return_still_completes_and_the_capture_happens_once_it_is_back(
    staff, fleet, customer, inventory, deposits, settings
):
    _priced(fleet)
    booked = quoted_booking(staff, fleet, customer, start=soon(5).replace(second=0, microsecond=0))
    url = f"/api/v1/rentals/{booked['id']}/"
    assert staff.post(f"{url}pick-up/", {**READINGS, "payment_method": "tok_visa"}, format="json").status_code == 200
    settings.BOOKING_PAYMENT_FAKE_OUTAGE = True
    ended = staff.post(f"{url}end/", READINGS, format="json")
    assert ended.status_code == 200 and ended.json()["status"] == "completed"
    assert inventory.car_status(booked["car_id"]) == "available"  # the release did not wait for the money
    relay_once()
    relay_once()
    (capture,) = pending_calls()
    assert capture.payload["op"] == "capture" and capture.attempts >= 2
    assert staff.post(f"{url}end/", READINGS, format="json").status_code == 200  # a retried return queues no more
    assert len(pending_calls()) == 1
    settings.BOOKING_PAYMENT_FAKE_OUTAGE = False
    OutboxRelay(RelaySettings.from_settings()).run_once()
    relay_once()
    deposit = Payment.objects.get(rental_id=booked["id"])
    assert (deposit.status, deposit.captured) == (PaymentStatus.CAPTURED, 6_000)
    intent = FakeIntent.objects.get(ref=deposit.ref)
    assert (intent.received, intent.captures) == (6_000, 1)


def test_a_prepaid_booking_cancelled_inside_the_window_is_refunded_all_but_the_policys_share(
    staff, fleet, customer, inventory
):
    _priced(fleet)
    booked = quoted_booking(staff, fleet, customer, start=soon(60 * 24).replace(second=0, microsecond=0))
    paid = staff.post(f"/api/v1/rentals/{booked['id']}/payments/", {"purpose": "charge"}, format="json").json()
    assert (paid["status"], paid["captured"]) == ("captured", 6_000)
    cancelled = staff.post(f"/api/v1/rentals/{booked['id']}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["price"] == 3_000  # 50 % kept inside 48 h
    relay_once()
    payment = Payment.objects.get(id=paid["id"])
    assert (payment.captured, payment.refunded) == (6_000, 3_000)
    assert FakeIntent.objects.get(ref=payment.ref).refunded == 3_000


def test_a_no_show_pays_its_fee_from_the_deposit_authorised_at_booking(staff, fleet, customer, inventory):
    _priced(fleet)
    booked = quoted_booking(staff, fleet, customer, start=soon(5).replace(second=0, microsecond=0))
    held = staff.post(
        f"/api/v1/rentals/{booked['id']}/payments/", {"purpose": "deposit", "payment_method": "tok_visa"}, format="json"
    ).json()
    assert held["status"] == "authorized" and held["amount"] == 7_200
    Rental.objects.filter(id=booked["id"]).update(pickup_at=soon(-120))
    OutboxRelay(RelaySettings.from_settings()).housekeeping()  # the no-show sweep
    assert Rental.objects.get(id=booked["id"]).status == RentalStatus.NO_SHOW
    relay_once()
    deposit = Payment.objects.get(id=held["id"])
    assert (deposit.status, deposit.captured) == (PaymentStatus.CAPTURED, 6_000)  # BOOKING_NO_SHOW_PERCENT: 100
