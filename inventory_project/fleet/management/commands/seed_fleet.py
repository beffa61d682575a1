"""A large synthetic fleet for load tests: `manage.py seed_fleet --cars 10000`. Adds to what is there.

The cars get a vehicle class (from their model) and one of the demo's branches (made, with the demo's classes,
when missing). `--walk-in-cars N` keeps the first N cars (by plate) without either, as v1 cars: only a walk-in
can take them, so no booking or reserve by class ever lands on them and `seed_holds` leaves them alone — the
bench's rent/return walks them without meeting a hold ahead (an open-ended walk-in overlaps every later hold).
"""

import random
import uuid

from django.core.management.base import BaseCommand, CommandError, CommandParser

from fleet import services
from fleet.management.commands.seed_demo import DEMO_BRANCHES, DEMO_CLASSES
from fleet.models import CarStatus, Location, VehicleClass

# Each model and the class a customer would book it as (the demo's five classes).
CLASS_OF_MODEL = {
    "Tesla Model 3": "EV",
    "Tesla Model Y": "EV",
    "Toyota Corolla": "COMPACT",
    "Toyota Yaris": "ECONOMY",
    "Volkswagen Golf": "COMPACT",
    "Volkswagen Polo": "ECONOMY",
    "Renault Zoe": "EV",
    "Renault Clio": "ECONOMY",
    "Fiat 500": "ECONOMY",
    "Ford Focus": "COMPACT",
    "Ford Transit": "VAN",
    "Kia Niro": "SUV",
    "Hyundai Kona": "SUV",
    "Peugeot 208": "ECONOMY",
    "Skoda Octavia": "COMPACT",
    "BMW i3": "EV",
    "Audi A3": "COMPACT",
    "Mercedes A-Class": "COMPACT",
    "Nissan Leaf": "EV",
    "Dacia Sandero": "ECONOMY",
}
MODELS = list(CLASS_OF_MODEL)


class Command(BaseCommand):
    help = (
        "Insert N synthetic cars (90% available, 7% maintenance, 3% retired) in batches, each with a class and a "
        "branch (the demo's, created when missing), but the first --walk-in-cars."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cars", type=int, default=10_000)
        parser.add_argument("--seed", type=int, default=42, help="random seed, for a repeatable fleet")
        parser.add_argument(
            "--walk-in-cars",
            type=int,
            default=0,
            help="how many of the cars (the first, by plate) get neither class nor branch: walk-ins only",
        )

    def handle(self, *args: object, cars: int, seed: int, walk_in_cars: int, **options: object) -> None:
        if not 0 <= walk_in_cars <= cars:
            raise CommandError("--walk-in-cars must be between 0 and --cars.")
        branches = _demo_branches_and_classes()
        rng = random.Random(seed)
        prefix = uuid.UUID(int=rng.getrandbits(128)).hex[:4].upper()
        statuses = [CarStatus.AVAILABLE] * 90 + [CarStatus.MAINTENANCE] * 7 + [CarStatus.RETIRED] * 3
        fleet = []
        for n in range(cars):
            car = dict(
                id=uuid.UUID(int=rng.getrandbits(128), version=4),
                model=rng.choice(MODELS),
                year=rng.randint(2012, 2026),
                plate=f"{prefix}{n:07d}",
                status=rng.choice(statuses),
            )
            if n >= walk_in_cars:
                car.update(vehicle_class=CLASS_OF_MODEL[car["model"]], location=branches[n % len(branches)])
            fleet.append(car)
        added = services.cars_load(fleet)
        self.stdout.write(f"{added} cars added")


def _demo_branches_and_classes() -> list[str]:
    """The demo's branches and classes, each created (through the services, as seed_demo does) when missing;
    returns the branch codes the fleet is spread over."""
    for code, name, time_zone, hours in DEMO_BRANCHES:
        if not Location.objects.filter(code=code).exists():
            services.location_create(code=code, name=name, time_zone=time_zone, opening_hours=hours)
    for code, name, seats, transmission, turnaround in DEMO_CLASSES:
        if not VehicleClass.objects.filter(code=code).exists():
            services.vehicle_class_create(
                code=code, name=name, seats=seats, transmission=transmission, turnaround_minutes=turnaround
            )
    return [code for code, *_ in DEMO_BRANCHES]
