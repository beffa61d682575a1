"""The load test's data: seed_fleet's classes, branches and walk-in cars."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from fleet.management.commands.seed_fleet import CLASS_OF_MODEL
from fleet.models import Car, Location, VehicleClass

pytestmark = pytest.mark.django_db


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
