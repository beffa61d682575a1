"""Booking under test: the throwaway cluster the test command starts; tests point inventory where they need it."""
from drivenow_servicekit import test_settings
from drivenow_servicekit.settings import env

from .base import *  # noqa: F403

test_settings.apply(globals())

# Port 9 (discard) has no server: a test that reaches inventory without choosing one sees it down. Tests that
# need inventory point the client at a live one (conftest); a relay process under test gets it from the env.
BOOKING_INVENTORY_URL = env("DN_TEST_BOOKING_INVENTORY_URL", "http://127.0.0.1:9")
BOOKING_INVENTORY_TOKEN = env("DN_TEST_BOOKING_INVENTORY_TOKEN", "")
BOOKING_INVENTORY_READ_TIMEOUT = 2.0
BOOKING_OUTBOX_BACKOFF_BASE = 0.5
BOOKING_OUTBOX_BACKOFF_CAP = 5.0
