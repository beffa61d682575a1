"""Settings of the inventory service in every environment; the shared DriveNow defaults come first."""
from drivenow_servicekit.base_settings import *  # noqa: F403
from pathlib import Path

from drivenow_servicekit.base_settings import DJANGO_APPS, SPECTACULAR_DEFAULTS, database

BASE_DIR = Path(__file__).resolve().parent.parent.parent
STATIC_ROOT = BASE_DIR / "staticfiles"

INSTALLED_APPS = [*DJANGO_APPS, "fleet"]

ROOT_URLCONF = "config.urls"
DATABASES = {"default": database("INVENTORY", "cars_inventory_db")}

SPECTACULAR_SETTINGS = {
    **SPECTACULAR_DEFAULTS,
    "TITLE": "DriveNow Inventory API",
    "DESCRIPTION": "The fleet: cars, their availability, and the reservation API that is the only way to take a car.",
    "ENUM_NAME_OVERRIDES": {
        "CarStatusEnum": "fleet.models.CarStatus",
        "ReservationStateEnum": "fleet.models.ReservationState",
    },
}

DRIVENOW_METRICS_COLLECTORS = ["fleet.metrics.cars_by_status"]
# Booking's account: throttled in its own scope (DJANGO_THROTTLE_SERVICE, off by default), never as a person.
DRIVENOW_SERVICE_PERMISSIONS = ["fleet.manage_reservations"]
