"""The load test's data: seed_fleet's classes, branches and walk-in cars, and seed_holds' holds over the year."""

import itertools
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from fleet import services
from fleet.management.commands.seed_fleet import CLASS_OF_MODEL
from fleet.models import Car, HoldKind, Location, Reservation, ReservationState, VehicleClass

pytestmark = pytest.mark.django_db

SEEDED = ("be4c4000-0000-0000-0000-000000000000", "be4c4000-0000-0000-ffff-ffffffffffff")


def _call(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip()


def test_seed_fleet_spreads_cars_over_the_demo_classes_and_branches_but_the_walk_in_cars():
    assert _call("seed_fleet", "--cars", "60", "--walk-in-cars", "12") == "60 cars added"
    assert set(Location.objects.values_list("code", flat=True)) == {"TLV-AIR", "TLV-CEN", "LON-LHR"}
    assert set(VehicleClass.objects.values_list("code", flat=True)) == {"ECONOMY", "COMPACT", "EV", "SUV", "VAN"}
    by_plate = list(Car.objects.order_by("plate").values_list("vehicle_class__code", "location__code", "model"))
    assert all(car[:2] == (None, None) for car in by_plate[:12])  # the walk-in fleet: v1 cars
    assert all(None not in car[:2] for car in by_plate[12:])
    assert all(car[0] == CLASS_OF_MODEL[car[2]] for car in by_plate[12:])  # a Transit is a van
    assert len({car[1] for car in by_plate[12:]}) == 3


def test_seed_fleet_finds_the_branches_and_classes_already_there():
    call_command("seed_fleet", "--cars", "5", stdout=StringIO())
    call_command("seed_fleet", "--cars", "5", "--seed", "8", stdout=StringIO())
    assert Location.objects.count() == 3 and VehicleClass.objects.count() == 5
    with pytest.raises(CommandError):
        call_command("seed_fleet", "--cars", "5", "--walk-in-cars", "6", stdout=StringIO())


def test_seed_holds_spreads_holds_of_one_to_seven_days_over_the_year_none_overlapping():
    call_command("seed_fleet", "--cars", "40", "--walk-in-cars", "10", stdout=StringIO())
    says = _call("seed_holds", "--holds", "500")
    seeded = Reservation.objects.filter(id__range=SEEDED)
    assert seeded.count() == 500 and says.startswith("500 holds added")
    assert not seeded.filter(car__vehicle_class__isnull=True).exists()  # never on the walk-in fleet
    shapes = set(seeded.values_list("kind", "state", "picked_up_at"))
    assert shapes == {(HoldKind.RENTAL, ReservationState.ACTIVE, None)}  # bookings ahead, not yet picked up
    per_car: dict = {}
    for hold in seeded.select_related("vehicle_class"):
        length = hold.ends_at - hold.period.lower
        assert timedelta(days=1) <= length <= timedelta(days=7)
        assert hold.period.upper == hold.ends_at + timedelta(minutes=hold.vehicle_class.turnaround_minutes)
        assert hold.location_id == hold.return_location_id == hold.car.location_id
        per_car.setdefault(hold.car_id, []).append(hold.period)
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        now = cursor.fetchone()[0]
    for periods in per_car.values():
        periods.sort(key=lambda p: p.lower)
        assert all(a.upper <= b.lower for a, b in itertools.pairwise(periods))
        assert now < periods[0].lower and periods[-1].upper <= now + timedelta(days=366)
    assert max(map(len, per_car.values())) - min(map(len, per_car.values())) <= 1  # shared out evenly


def test_seed_holds_replaces_its_own_holds_and_skips_what_would_overlap_a_block():
    call_command("seed_fleet", "--cars", "10", stdout=StringIO())
    call_command("seed_holds", "--holds", "100", stdout=StringIO())
    car = Car.objects.filter(reservations__isnull=False).first()
    first = Reservation.objects.filter(car=car).order_by("period__startswith").first()
    Reservation.objects.filter(id__range=SEEDED).delete()
    services.block_create(car_id=car.id, starts_at=first.period.lower, ends_at=first.period.upper, reason="Service")
    says = _call("seed_holds", "--holds", "100")
    assert "1 skipped" in says and Reservation.objects.filter(id__range=SEEDED).count() == 99
    assert "99 seeded earlier removed" in _call("seed_holds", "--holds", "30")
    assert Reservation.objects.filter(id__range=SEEDED).count() == 30
    assert Reservation.objects.filter(kind=HoldKind.BLOCK).count() == 1  # what it did not seed, it leaves


def test_seed_holds_refuses_more_holds_than_the_fleet_can_take():
    call_command("seed_fleet", "--cars", "2", stdout=StringIO())
    with pytest.raises(CommandError, match="at most"):
        call_command("seed_holds", "--holds", "1000", stdout=StringIO())
