"""Demo data for `deploy/local/run.sh` and compose: a staff user with a token, three branches in two time zones,
five vehicle classes and a small fleet spread over them. Safe to run twice."""

import os
from uuid import UUID

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from rest_framework.authtoken.models import Token

from fleet import services
from fleet.models import Car, CarStatus, Location, Transmission, VehicleClass

WEEKDAYS_8_TO_20 = {day: [["08:00", "20:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
DEMO_BRANCHES = [
    ("TLV-AIR", "Tel Aviv Airport", "Asia/Jerusalem", {}),  # no opening hours: open round the clock
    (
        "TLV-CEN",
        "Tel Aviv Centre",
        "Asia/Jerusalem",
        {"sun": [["08:00", "20:00"]], "fri": [["08:00", "13:00"]]}
        | {day: [["08:00", "20:00"]] for day in ("mon", "tue", "wed", "thu")},
    ),
    ("LON-LHR", "London Heathrow", "Europe/London", WEEKDAYS_8_TO_20 | {"sat": [["09:00", "17:00"]]}),
]
DEMO_CLASSES = [
    ("ECONOMY", "Economy", 4, Transmission.MANUAL, 30),
    ("COMPACT", "Compact", 5, Transmission.MANUAL, 30),
    ("EV", "Electric", 5, Transmission.AUTOMATIC, 45),
    ("SUV", "SUV", 7, Transmission.AUTOMATIC, 45),
    ("VAN", "Van", 3, Transmission.MANUAL, 60),
]
DEMO_CARS = [
    ("6f1c2a9e-2b1d-4c1e-9a57-0d8f4b7c1a00", "Tesla Model Y", 2024, "DN-100", CarStatus.AVAILABLE, "EV", "TLV-AIR"),
    (
        "6f1c2a9e-2b1d-4c1e-9a57-0d8f4b7c1a01",
        "Toyota Corolla",
        2022,
        "DN-101",
        CarStatus.AVAILABLE,
        "COMPACT",
        "TLV-AIR",
    ),
    (
        "6f1c2a9e-2b1d-4c1e-9a57-0d8f4b7c1a02",
        "Volkswagen Golf",
        2021,
        "DN-102",
        CarStatus.AVAILABLE,
        "COMPACT",
        "TLV-CEN",
    ),
    ("6f1c2a9e-2b1d-4c1e-9a57-0d8f4b7c1a03", "Renault Zoe", 2023, "DN-103", CarStatus.AVAILABLE, "EV", "LON-LHR"),
    ("6f1c2a9e-2b1d-4c1e-9a57-0d8f4b7c1a04", "Ford Transit", 2020, "DN-104", CarStatus.MAINTENANCE, "VAN", "LON-LHR"),
    ("6f1c2a9e-2b1d-4c1e-9a57-0d8f4b7c1a05", "Fiat 500", 2019, "DN-105", CarStatus.AVAILABLE, "ECONOMY", "TLV-CEN"),
]

# What earlier versions gave the staff user by default, published in the README: never left in place.
RETIRED_DEMO_PASSWORD = "drivenow-staff"


class Command(BaseCommand):
    help = "Create a demo staff user (with an API token), branches, vehicle classes and cars; prints the token."

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
        for code, name, time_zone, hours in DEMO_BRANCHES:
            if not Location.objects.filter(code=code).exists():
                services.location_create(code=code, name=name, time_zone=time_zone, opening_hours=hours)
        for code, name, seats, transmission, turnaround in DEMO_CLASSES:
            if not VehicleClass.objects.filter(code=code).exists():
                services.vehicle_class_create(
                    code=code, name=name, seats=seats, transmission=transmission, turnaround_minutes=turnaround
                )
        for car_id, model, year, plate, status, vehicle_class, location in DEMO_CARS:
            existing = Car.objects.filter(id=car_id).first()
            if existing is None:
                services.car_create(
                    id=UUID(car_id),
                    model=model,
                    year=year,
                    plate=plate,
                    status=status,
                    vehicle_class=vehicle_class,
                    location=location,
                )
            elif existing.vehicle_class_id is None and existing.location_id is None:  # a demo car from before v2
                services.car_update(car_id=existing.id, vehicle_class=vehicle_class, location=location)
        self.stdout.write(Token.objects.get(user=user).key)
