"""A large synthetic fleet for load tests: `manage.py seed_fleet --cars 10000`. Adds to what is there."""

import random
import uuid

from django.core.management.base import BaseCommand, CommandParser

from fleet import services
from fleet.models import CarStatus

MODELS = [
    "Tesla Model 3",
    "Tesla Model Y",
    "Toyota Corolla",
    "Toyota Yaris",
    "Volkswagen Golf",
    "Volkswagen Polo",
    "Renault Zoe",
    "Renault Clio",
    "Fiat 500",
    "Ford Focus",
    "Ford Transit",
    "Kia Niro",
    "Hyundai Kona",
    "Peugeot 208",
    "Skoda Octavia",
    "BMW i3",
    "Audi A3",
    "Mercedes A-Class",
    "Nissan Leaf",
    "Dacia Sandero",
]


class Command(BaseCommand):
    help = "Insert N synthetic cars (90% available, 7% maintenance, 3% retired) in batches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cars", type=int, default=10_000)
        parser.add_argument("--seed", type=int, default=42, help="random seed, for a repeatable fleet")

    def handle(self, *args: object, cars: int, seed: int, **options: object) -> None:
        rng = random.Random(seed)
        prefix = uuid.UUID(int=rng.getrandbits(128)).hex[:4].upper()
        statuses = [CarStatus.AVAILABLE] * 90 + [CarStatus.MAINTENANCE] * 7 + [CarStatus.RETIRED] * 3
        fleet = [
            dict(
                id=uuid.UUID(int=rng.getrandbits(128), version=4),
                model=rng.choice(MODELS),
                year=rng.randint(2012, 2026),
                plate=f"{prefix}{n:07d}",
                status=rng.choice(statuses),
            )
            for n in range(cars)
        ]
        added = services.cars_load(fleet)
        self.stdout.write(f"{added} cars added")
