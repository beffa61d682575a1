"""Demo data for `deploy/local/run.sh` and compose: a staff user with a token, three branches in two time zones,
five vehicle classes, a fleet of 60 cars spread over them (four of each class at each branch) and a few blocks
over the next fortnight, so the planning board opens alive. Run on every start: safe to run again and again."""

import os
from datetime import UTC, datetime, timedelta
from uuid import UUID

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from rest_framework.authtoken.models import Token

from fleet import errors, services
from fleet.models import Car, CarStatus, HoldKind, Location, Reservation, ReservationState, Transmission, VehicleClass

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
# The rest of the demo fleet: four cars of each class at each branch, the six above among them, with ids and
# plates that follow theirs (…1b00, DN-106 on).
FLEET_PER_CLASS_AND_BRANCH = 4
DEMO_MODELS = {
    "ECONOMY": [("Fiat 500", 2021), ("Kia Picanto", 2022), ("Hyundai i10", 2023), ("Toyota Aygo X", 2024)],
    "COMPACT": [("Toyota Corolla", 2023), ("Volkswagen Golf", 2022), ("Skoda Octavia", 2024), ("Mazda 3", 2021)],
    "EV": [("Tesla Model Y", 2025), ("Renault Zoe", 2022), ("Kia EV6", 2024), ("Hyundai Ioniq 5", 2023)],
    "SUV": [("Toyota RAV4", 2023), ("Hyundai Tucson", 2024), ("Kia Sportage", 2022), ("Nissan Qashqai", 2025)],
    "VAN": [
        ("Ford Transit", 2022),
        ("Mercedes Sprinter", 2023),
        ("Volkswagen Crafter", 2021),
        ("Renault Trafic", 2024),
    ],
}


def demo_fleet() -> list[tuple[str, str, int, str, str, str, str]]:
    """DEMO_CARS, then as many more as make four of each class at each branch: (id, model, year, plate, status,
    class, branch), the same list on every run."""
    fleet = list(DEMO_CARS)
    for branch, *_ in DEMO_BRANCHES:
        for vehicle_class, *_ in DEMO_CLASSES:
            have = sum(1 for car in fleet if car[5:] == (vehicle_class, branch))
            for model, year in DEMO_MODELS[vehicle_class][have:FLEET_PER_CLASS_AND_BRANCH]:
                n = len(fleet) - len(DEMO_CARS)
                car_id = f"6f1c2a9e-2b1d-4c1e-9a57-0d8f4b7c{0x1B00 + n:04x}"
                fleet.append(
                    (car_id, model, year, f"DN-{100 + len(fleet)}", CarStatus.AVAILABLE, vehicle_class, branch)
                )
    return fleet


# Staff blocks over the next fortnight, five or so at each branch: (car's plate, days from today, start hour UTC,
# hours, reason). None is on the first six demo cars but the Transit (in maintenance already), so they stay
# free to take. Each is made once while it is ahead: a run finds it (same car, same reason, still to end) and
# adds none.
DEMO_BLOCKS = [
    ("DN-108", 3, 6, 30, "Annual inspection"),
    ("DN-112", 1, 9, 8, "Tyre change"),
    ("DN-117", 4, 7, 52, "Bodywork"),
    ("DN-121", 5, 9, 8, "Brake service"),
    ("DN-114", 9, 8, 6, "Software update"),
    ("DN-125", 2, 8, 5, "Oil change"),
    ("DN-129", 4, 7, 9, "Windscreen"),
    ("DN-133", 6, 12, 20, "Transfer to TLV-AIR"),
    ("DN-136", 8, 6, 32, "Air conditioning"),
    ("DN-140", 11, 8, 8, "Tachograph check"),
    ("DN-104", 0, 7, 56, "Gearbox repair"),
    ("DN-142", 8, 7, 10, "Windscreen"),
    ("DN-147", 3, 9, 7, "Tyre change"),
    ("DN-150", 10, 8, 48, "Bodywork"),
    ("DN-154", 5, 6, 30, "Annual inspection"),
    ("DN-157", 12, 9, 5, "Detailing"),
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
        fleet = demo_fleet()
        existing = Car.objects.in_bulk([UUID(car[0]) for car in fleet])
        for car_id, model, year, plate, status, vehicle_class, location in fleet:
            car = existing.get(UUID(car_id))
            if car is None:
                try:
                    services.car_create(
                        id=UUID(car_id),
                        model=model,
                        year=year,
                        plate=plate,
                        status=status,
                        vehicle_class=vehicle_class,
                        location=location,
                    )
                except errors.CarExists:  # someone's own car has this plate: theirs stays, the demo does without
                    self.stderr.write(f"seed_demo: plate {plate} is taken; demo car {car_id} left out")
            elif car.vehicle_class_id is None and car.location_id is None:  # a demo car from before v2
                services.car_update(car_id=car.id, vehicle_class=vehicle_class, location=location)
        self._blocks()
        self.stdout.write(Token.objects.get(user=user).key)

    def _blocks(self) -> None:
        """The demo's blocks ahead, through block_create; one that would overlap a hold is left out."""
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        plates = [services.plate_normalise(plate) for plate, *_ in DEMO_BLOCKS]
        demo_ids = [UUID(car[0]) for car in demo_fleet()]  # never someone's own car that has a demo plate
        cars = {car.plate: car for car in Car.objects.filter(id__in=demo_ids, plate__in=plates)}
        for plate, days, hour, hours, reason in DEMO_BLOCKS:
            car = cars.get(services.plate_normalise(plate))
            if car is None or car.status == CarStatus.RETIRED:
                continue
            ahead = Reservation.objects.filter(
                car=car, kind=HoldKind.BLOCK, state=ReservationState.ACTIVE, reason=reason, ends_at__gt=today
            )
            if ahead.exists():
                continue
            starts_at = today + timedelta(days=days, hours=hour)
            try:
                services.block_create(
                    car_id=car.id, starts_at=starts_at, ends_at=starts_at + timedelta(hours=hours), reason=reason
                )
            except errors.CarUnavailable:  # held or blocked then: the demo does without this one
                continue
