"""Demo data for `deploy/local/run.sh` and compose: a staff user with a token and three customers. Safe to run twice."""

import contextlib
import os
from uuid import UUID

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from rest_framework.authtoken.models import Token

from customers import errors, services
from customers.models import Customer

DEMO_CUSTOMERS = [
    ("0b5e7d3c-8f4a-4d2b-9c1e-5a6f7b8c9d00", "Ada Lovelace", "ada@example.com", "+44 20 7946 0001", "LOVEL815120AB9CD"),
    ("0b5e7d3c-8f4a-4d2b-9c1e-5a6f7b8c9d01", "Grace Hopper", "grace@example.com", "+1 202 555 0102", "H123-4567-8901"),
    ("0b5e7d3c-8f4a-4d2b-9c1e-5a6f7b8c9d02", "Alan Turing", "alan@example.com", "+44 161 496 0003", "TURIN706232AM9XY"),
]

# What earlier versions gave the staff user by default, published in the README: never left in place.
RETIRED_DEMO_PASSWORD = "drivenow-staff"


class Command(BaseCommand):
    help = "Create a demo staff user (with an API token) and three demo customers; prints the token."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="staff")
        parser.add_argument(
            "--password",
            default=os.environ.get("DRIVENOW_STAFF_PASSWORD", ""),
            help="The staff user's admin password (default: $DRIVENOW_STAFF_PASSWORD). Without one the user has no "
            "usable password until `manage.py changepassword`.",
        )
        parser.add_argument("--token", default="", help="Use this token instead of a generated one.")

    @transaction.atomic
    def handle(self, *args: object, username: str, password: str, token: str, **options: object) -> None:
        if token and not (20 <= len(token) <= 40 and token.isalnum()):
            raise CommandError("--token must be 20-40 letters and digits.")
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
        for customer_id, name, email, phone, licence in DEMO_CUSTOMERS:
            if Customer.objects.filter(id=customer_id).exists():  # safe to run twice
                continue
            with contextlib.suppress(errors.CustomerExists):  # someone real has the address: leave them be
                services.customer_create(
                    id=UUID(customer_id), name=name, email=email, phone=phone, driver_licence=licence
                )
        call_command("seed_demo_prices")  # the demo fleet's rate plans and extras
        self.stdout.write(Token.objects.get(user=user).key)
