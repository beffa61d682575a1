"""Create (or update) the booking service's account: may manage reservations, nothing else. Prints its token."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = "Create the service account that may take and release cars, and print its API token."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="booking-service")
        parser.add_argument(
            "--token", default="", help="Use this token (e.g. from a secret store) instead of a generated one."
        )

    @transaction.atomic
    def handle(self, *args: object, username: str, token: str, **options: object) -> None:
        if token and not (20 <= len(token) <= 40 and token.isalnum()):
            raise CommandError("--token must be 20-40 letters and digits.")
        user, _ = get_user_model().objects.get_or_create(
            username=username, defaults={"is_staff": False, "is_superuser": False}
        )
        user.set_unusable_password()  # a machine account: token only, never the admin
        user.is_staff = user.is_superuser = False
        user.save()
        user.user_permissions.set(
            [Permission.objects.get(codename="manage_reservations", content_type__app_label="fleet")]
        )
        if token:
            Token.objects.filter(user=user).exclude(key=token).delete()
            Token.objects.get_or_create(user=user, key=token)
        else:
            Token.objects.get_or_create(user=user)
        self.stdout.write(Token.objects.get(user=user).key)
