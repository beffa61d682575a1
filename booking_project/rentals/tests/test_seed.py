"""The demo bookings run.sh makes: a fortnight booked through the live inventory's demo fleet, once."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from rentals.models import Rental, RentalStatus

pytestmark = pytest.mark.django_db(transaction=True)


def test_seed_demo_bookings_books_a_fortnight_through_inventory_and_runs_once(inventory):
    call_command("seed_demo", stdout=StringIO())  # the demo customers
    out = StringIO()
    call_command("seed_demo_bookings", stdout=out)
    reserved = list(Rental.objects.filter(status=RentalStatus.RESERVED))
    active = list(Rental.objects.filter(status=RentalStatus.ACTIVE))
    assert len(reserved) >= 5 and len(active) >= 1, out.getvalue()
    assert Rental.objects.filter(status=RentalStatus.CANCELLED).count() == 1
    assert not Rental.objects.filter(status=RentalStatus.FAILED).exists()  # availability was asked first
    assert {rental.pickup_location for rental in reserved} <= {"TLV-AIR", "TLV-CEN", "LON-LHR"}
    for rental in reserved + active:
        assert inventory.reservation_state(rental.id) == "active" and rental.car_model
    for rental in active:
        assert inventory.car_status(rental.car_id) == "rented"
    again = StringIO()
    call_command("seed_demo_bookings", stdout=again)
    assert "exist already" in again.getvalue() and Rental.objects.count() == len(reserved) + len(active) + 1
