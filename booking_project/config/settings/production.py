"""Booking in production: the shared production overrides over the booking base; inventory's token is required."""
from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403

from drivenow_servicekit.production_settings import *  # noqa: F403, E402

if not BOOKING_INVENTORY_TOKEN:  # noqa: F405
    raise ImproperlyConfigured(
        "BOOKING_INVENTORY_TOKEN must be set in production (inventory's `manage.py create_service_account`)."
    )
