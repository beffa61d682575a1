"""Demo data for `deploy/local/run.sh` and compose: a staff user with a token and a small fleet. Safe to run twice."""

import os
from uuid import UUID

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from rest_framework.authtoken.models import Token

from fleet import services
from fleet.models import Car, CarStatus

DEMO_CARS = [
    ("6f1c2a9e-2b1d-4c1e-9a57-0d8f4b7c1a00", "Tesla Model Y", 2024, "DN-100", CarStatus.AVAILABLE),
    ("6f1c2a9e-2b1d-4c1e-9a57-0d8f4b7c1a01", "Toyota Corolla", 2022, "DN-101", CarStatus.AVAILABLE),
    ("6f1c2a9e-2b1d-4c1e-9a57-0d8f4b7c1a02", "Volkswagen Golf", 2021, "DN-102", CarStatus.AVAILABLE),
    ("6f1c2a9e-2b1d-4c1e-9a57-0d8f4b7c1a03", "Renault Zoe", 2023, "DN-103", CarStatus.AVAILABLE),
    ("6f1c2a9e-2b1d-4c1e-9a57-0d8f4b7c1a04", "Ford Transit", 2020, "DN-104", CarStatus.MAINTENANCE),
    ("6f1c2a9e-2b1d-4c1e-9a57-0d8f4b7c1a05", "Fiat 500", 2019, "DN-105", CarStatus.AVAILABLE),
]

# What earlier versions gave the staff user by default, published in the README: never left in place.
RETIRED_DEMO_PASSWORD = "drivenow-staff"


class Command(BaseCommand):
    help = "Create a demo staff user (with an API token) and a few demo cars; prints the token."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="staff")
        parser.add_argument(
            "--password",
            default=os.environ.get("DRIVENOW_STAFF_PASSWORD", ""),
            help="The staff user's admin password (default: $DRIVENOW_STAFF_PASSWORD). Without one the user has no "
            "usable password until `manage.py changepassword`.",
        )
        parser.add_argument("--token", default="")

    @transaction.atomic
    def handle(self, *args: object, username: str, password: str, token: str, **options: object) -> None:
        user, created = get_user_model().objects.get_or_create(username=username)
        if password:
            user.set_password(password)
        elif created or user.check_password(RETIRED_DEMO_PASSWORD):
            user.set_unusable_password()  # never a password someone else could know
        user.is_staff = user.is_superuser = True
        user.save()
        if token:
            Token.objects.filter(user=user).exclude(key=token).delete()
        Token.objects.get_or_create(user=user, **({"key": token} if token else {}))
        for car_id, model, year, plate, status in DEMO_CARS:
            if not Car.objects.filter(id=car_id).exists():  # safe to run twice: an existing car is left as it is
                services.car_create(id=UUID(car_id), model=model, year=year, plate=plate, status=status)
        self.stdout.write(Token.objects.get(user=user).key)
