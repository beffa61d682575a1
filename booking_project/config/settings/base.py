"""Settings of the booking service in every environment; the shared DriveNow defaults come first."""
from drivenow_servicekit.base_settings import *  # noqa: F403
from pathlib import Path

from drivenow_servicekit.base_settings import DJANGO_APPS, SPECTACULAR_DEFAULTS, database
from drivenow_servicekit.settings import env, env_int


def _env_float(name: str, default: float) -> float:
    value = env(name)
    return default if value is None else float(value)


BASE_DIR = Path(__file__).resolve().parent.parent.parent
STATIC_ROOT = BASE_DIR / "staticfiles"

INSTALLED_APPS = [*DJANGO_APPS, "customers", "rentals"]

ROOT_URLCONF = "config.urls"
DATABASES = {"default": database("BOOKING", "booking_db")}

SPECTACULAR_SETTINGS = {
    **SPECTACULAR_DEFAULTS,
    "TITLE": "DriveNow Booking API",
    "DESCRIPTION": (
        "Customers and rentals. Starting a rental takes the car through inventory's reservation API and answers "
        "at once; ending one never waits for inventory (an outbox relay frees the car)."
    ),
    "ENUM_NAME_OVERRIDES": {
        "CustomerStatusEnum": "customers.models.CustomerStatus",
        "RentalStatusEnum": "rentals.models.RentalStatus",
        "RentalFailureCodeEnum": "rentals.models.FailureCode",
    },
}

DRIVENOW_METRICS_COLLECTORS = ["rentals.metrics.outbox_backlog"]
# Inventory is reported by /health/ready but never makes booking unready: the outbox covers its outages.
DRIVENOW_READY_REPORTS = {"inventory": "rentals.inventory.inventory_status"}

# -- inventory, through drivenow_contracts.InventoryClient (one per process) -----------------------------
BOOKING_INVENTORY_URL = env("BOOKING_INVENTORY_URL", "http://127.0.0.1:3131")
BOOKING_INVENTORY_TOKEN = env("BOOKING_INVENTORY_TOKEN", "")
BOOKING_INVENTORY_CONNECT_TIMEOUT = _env_float("BOOKING_INVENTORY_CONNECT_TIMEOUT", 1.0)
BOOKING_INVENTORY_READ_TIMEOUT = _env_float("BOOKING_INVENTORY_READ_TIMEOUT", 3.0)
# Retries on connection errors, timeouts and 502/503/504 (every inventory call is idempotent). A start request
# waits at most (connect + read timeout) × (1 + retries) for inventory before answering 503.
BOOKING_INVENTORY_RETRIES = env_int("BOOKING_INVENTORY_RETRIES", 1)

# -- outbox relay (manage.py run_outbox_relay) -----------------------------------------------------------
BOOKING_OUTBOX_POLL_INTERVAL = _env_float("BOOKING_OUTBOX_POLL_INTERVAL", 1.0)
BOOKING_OUTBOX_BATCH_SIZE = env_int("BOOKING_OUTBOX_BATCH_SIZE", 10)
# Deliveries in flight at once per relay (threads, each with its own pooled connection and call to inventory).
BOOKING_OUTBOX_CONCURRENCY = env_int("BOOKING_OUTBOX_CONCURRENCY", 4)
# A claimed row is invisible to other relays this long; far above the longest possible inventory call.
BOOKING_OUTBOX_LEASE_SECONDS = _env_float("BOOKING_OUTBOX_LEASE_SECONDS", 60.0)
BOOKING_OUTBOX_BACKOFF_BASE = _env_float("BOOKING_OUTBOX_BACKOFF_BASE", 1.0)
BOOKING_OUTBOX_BACKOFF_CAP = _env_float("BOOKING_OUTBOX_BACKOFF_CAP", 300.0)
# Ending a rental releases its car at once with one attempt of this many seconds (connect, and read); the
# outbox row stays leased to that request for BOOKING_RELEASE_NOW_LEASE_SECONDS, then the relay takes over.
BOOKING_RELEASE_NOW_TIMEOUT = _env_float("BOOKING_RELEASE_NOW_TIMEOUT", 0.5)
BOOKING_RELEASE_NOW_LEASE_SECONDS = _env_float("BOOKING_RELEASE_NOW_LEASE_SECONDS", 5.0)
# The relay's reconciler compares inventory's active holds with booking's rentals this often, looking only at
# holds and rentals older than BOOKING_RECONCILE_MIN_AGE_SECONDS (younger ones may be mid-start).
BOOKING_RECONCILE_INTERVAL_SECONDS = _env_float("BOOKING_RECONCILE_INTERVAL_SECONDS", 300.0)
BOOKING_RECONCILE_MIN_AGE_SECONDS = _env_float("BOOKING_RECONCILE_MIN_AGE_SECONDS", 120.0)
BOOKING_OUTBOX_KEEP_DELIVERED_DAYS = env_int("BOOKING_OUTBOX_KEEP_DELIVERED_DAYS", 7)
# The relay's sweep fails rentals left `pending` this long untouched (a crash mid-start, a 503 nobody retried)
# and releases their holds. Longer than a start request can take.
BOOKING_PENDING_SWEEP_AGE_SECONDS = _env_float("BOOKING_PENDING_SWEEP_AGE_SECONDS", 60.0)
BOOKING_SWEEP_INTERVAL_SECONDS = _env_float("BOOKING_SWEEP_INTERVAL_SECONDS", 30.0)

# -- Idempotency-Key on POST /rentals/ ----------------------------------------------------------------------
BOOKING_IDEMPOTENCY_TTL_HOURS = env_int("BOOKING_IDEMPOTENCY_TTL_HOURS", 24)
BOOKING_RETRY_AFTER_SECONDS = env_int("BOOKING_RETRY_AFTER_SECONDS", 5)
