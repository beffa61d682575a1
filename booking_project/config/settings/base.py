"""Settings of the booking service in every environment (local, test and production build on this).

Reads the environment once (config/env.py). The contract's API conventions (error handler, parser, pagination,
filters, OpenAPI hooks) come from drivenow_contracts.server.conventions; the rest is this service's own.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from config.env import env, env_bool, env_int, env_list, env_rate
from drivenow_contracts import Role
from drivenow_contracts.server import conventions, identity

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# prometheus_client writes per-process files there as soon as a metric is created: a management command (migrate,
# the relay) must not crash because the directory it was given does not exist yet.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

SECRET_KEY = env("DJANGO_SECRET_KEY", "")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    # Refresh tokens revoked at logout and after each refresh (DJANGO_AUTH_METHODS=jwt).
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    # Admin (and API browser) login: failed attempts counted per username and address, locked out for a while.
    "axes",
    "customers",
    "rentals",
    "pricing",
    "payments",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "drivenow_contracts.server.request_id.RequestIDMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "drivenow_contracts.server.errors.DatabaseUnavailableMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked-out username/address before the password is checked
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


# PostgreSQL on psycopg 3 with Django's connection pool, from BOOKING_DB_*. CONN_MAX_AGE must stay 0 when the pool
# is on; BOOKING_DB_POOL_MAX=0 turns the pool off.
_POOL_MAX = env_int("BOOKING_DB_POOL_MAX", 8)
_DB_OPTIONS: dict[str, Any] = {"connect_timeout": env_int("BOOKING_DB_CONNECT_TIMEOUT", 3)}
# How long one statement may wait for a row lock, and run, in milliseconds (0: for ever, PostgreSQL's default). The
# server sets both (config/gunicorn.conf.py): a request stuck behind another transaction answers 503 with
# Retry-After instead of hanging until gunicorn kills its worker. Migrations and commands keep PostgreSQL's default.
_DB_SESSION = {
    "lock_timeout": env_int("BOOKING_DB_LOCK_TIMEOUT_MS", 0),
    "statement_timeout": env_int("BOOKING_DB_STATEMENT_TIMEOUT_MS", 0),
}
if any(_DB_SESSION.values()):
    _DB_OPTIONS["options"] = " ".join(f"-c {name}={ms}" for name, ms in _DB_SESSION.items() if ms)
if _POOL_MAX > 0:
    _DB_OPTIONS["pool"] = {
        "min_size": 1,
        "max_size": _POOL_MAX,
        "timeout": env_int("BOOKING_DB_POOL_TIMEOUT", 5),
        # While the database is away the pool retries with exponential backoff (1, 2, 4, … s) for this long, then
        # starts again from 1 s: it finds the database at most a few seconds after it is back (psycopg's default,
        # 300 s, lets the gap between attempts grow to minutes).
        "reconnect_timeout": env_int("BOOKING_DB_POOL_RECONNECT_TIMEOUT", 10),
    }
DATABASES = {
    "default": {
        "ENGINE": "django_prometheus.db.backends.postgresql",
        "NAME": env("BOOKING_DB_NAME", "booking_db"),
        "USER": env("BOOKING_DB_USER", "drivenow"),
        "PASSWORD": env("BOOKING_DB_PASSWORD", ""),
        "HOST": env("BOOKING_DB_HOST", "127.0.0.1"),
        "PORT": env("BOOKING_DB_PORT", "5432"),
        "CONN_MAX_AGE": 0,
        "OPTIONS": _DB_OPTIONS,
    }
}


DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# 1 MiB of JSON is far more than any car or reservation body; larger bodies are refused with 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

# A verified API token is remembered per process this long (see drivenow_contracts.server.auth); 0 = look it
# up every time.
DRIVENOW_TOKEN_CACHE_SECONDS = env_int("DJANGO_TOKEN_CACHE_SECONDS", 30)
# /health/ready asks the other services (DRIVENOW_READY_REPORTS) at most once per this window per process.
DRIVENOW_READY_REPORTS_CACHE_SECONDS = float(env("DJANGO_READY_REPORTS_CACHE_SECONDS", "5") or 5)

# Caches: `default` and the throttle counters are per-process memory (no shared cache server to run); see
# config/security.py for what that means for the rates.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "drivenow-default"},
    "throttle": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "drivenow-throttle"},
}

# Requests per client and period, per process: "<n>/<s|min|hour|day>", or "off". Booking has no service accounts
# calling it, so no `service` scope (inventory has one, for booking's account).
THROTTLE_RATES = {
    "anon": env_rate("DJANGO_THROTTLE_ANON", "60/min"),
    "user": env_rate("DJANGO_THROTTLE_USER", "600/min"),
}

# Who may call, by configuration (DJANGO_AUTH_METHODS: token, session, jwt, oidc — see
# drivenow_contracts.server.identity).
# Booking issues the JWTs (/api/v1/auth/token/) and knows their users; its staff are front desk and admins.
IDENTITY = identity.from_env(os.environ, issues_tokens=True, database_users=True)
DRIVENOW_AUTH_METHODS = IDENTITY.methods
DRIVENOW_JWT_DATABASE_USERS = IDENTITY.database_users
DRIVENOW_STAFF_ROLES = (Role.ADMIN, Role.FRONT_DESK)
SIMPLE_JWT = IDENTITY.simple_jwt
DRIVENOW_OIDC = IDENTITY.oidc

REST_FRAMEWORK = {
    **conventions.REST_FRAMEWORK,
    "DEFAULT_AUTHENTICATION_CLASSES": IDENTITY.authentication_classes,
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": [
        "config.security.AnonRateThrottle",
        "config.security.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": THROTTLE_RATES,
    # The gateway (or the ingress) appends the caller's address to X-Forwarded-For: the last entry is the one to
    # trust. Without a proxy in front, a caller could forge it: the instance ports are not public.
    "NUM_PROXIES": env_int("DJANGO_NUM_PROXIES", 1),
}

# Admin login lockout (django-axes): AXES_FAILURE_LIMIT failures for one username from one address lock that
# pair out for the cool-off; a success resets the count. Per pair, so nobody can lock a colleague out from afar.
AXES_FAILURE_LIMIT = env_int("DJANGO_ADMIN_LOGIN_FAILURES", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("DJANGO_ADMIN_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "config.security.client_ip"
AXES_LOCKOUT_CALLABLE = "config.security.admin_lockout_response"
AXES_DISABLE_ACCESS_LOG = True  # successful logins are not the problem; failures are recorded

LOG_FORMAT = env("DJANGO_LOG_FORMAT", "text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "drivenow_contracts.server.request_id.RequestIDLogFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["request_id"], "formatter": LOG_FORMAT},
    },
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {
        # Request lines come from gunicorn's access log; keep Django's own 4xx warnings out of the way.
        "django.request": {"level": "ERROR"},
    },
}


def _env_float(name: str, default: float) -> float:
    value = env(name)
    return default if value is None else float(value)


SPECTACULAR_SETTINGS = {
    **conventions.SPECTACULAR_SETTINGS,
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

DRIVENOW_METRICS_COLLECTORS = ["rentals.metrics.outbox_backlog", "rentals.metrics.overdue", "payments.metrics.money"]
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
# A booking not picked up this long after its pick-up time is a no-show: the relay's sweep releases its hold.
BOOKING_NO_SHOW_GRACE_MINUTES = env_int("BOOKING_NO_SHOW_GRACE_MINUTES", 60)
# When a car is overdue, its next bookings whose pick-up is this near are moved to another car by the relay.
BOOKING_REASSIGN_AHEAD_MINUTES = env_int("BOOKING_REASSIGN_AHEAD_MINUTES", 120)

# -- Prices ------------------------------------------------------------------------------------------------------
# How long a quote's price holds: a booking made from it within this keeps it.
BOOKING_QUOTE_TTL_MINUTES = env_int("BOOKING_QUOTE_TTL_MINUTES", 30)
# Fees: a return this late is still on time; a cancellation this long before pick-up is free, later it keeps this
# share of the price; a no-show keeps this share.
BOOKING_LATE_GRACE_MINUTES = env_int("BOOKING_LATE_GRACE_MINUTES", 29)
BOOKING_FREE_CANCELLATION_HOURS = env_int("BOOKING_FREE_CANCELLATION_HOURS", 48)
BOOKING_CANCELLATION_PERCENT = env_int("BOOKING_CANCELLATION_PERCENT", 50)
BOOKING_NO_SHOW_PERCENT = env_int("BOOKING_NO_SHOW_PERCENT", 100)

# -- payments (payments/): the provider, by configuration -----------------------------------------------
# `fake` (the default: local and CI, in-process and scriptable by card token) or `stripe` (the official SDK).
BOOKING_PAYMENT_PROVIDER = env("BOOKING_PAYMENT_PROVIDER", "fake")
# The webhook endpoint's signing secret (Stripe: whsec_…; the fake signs its webhooks with it the same way).
BOOKING_PAYMENT_WEBHOOK_SECRET = env("BOOKING_PAYMENT_WEBHOOK_SECRET", "whsec_drivenow_local_only")
BOOKING_PAYMENT_TIMEOUT = _env_float("BOOKING_PAYMENT_TIMEOUT", 10.0)  # seconds for one call to the provider
# An authorisation whose answer nobody recorded this long after it was asked (a worker killed mid-call) is voided.
BOOKING_PAYMENT_VOID_AFTER_SECONDS = _env_float("BOOKING_PAYMENT_VOID_AFTER_SECONDS", 600.0)
BOOKING_STRIPE_SECRET_KEY = env("BOOKING_STRIPE_SECRET_KEY", "")
BOOKING_STRIPE_API_BASE = env("BOOKING_STRIPE_API_BASE", "https://api.stripe.com")
# The fake provider answers every call as if it were down (a fault drill: returns still complete, captures wait).
BOOKING_PAYMENT_FAKE_OUTAGE = env_bool("BOOKING_PAYMENT_FAKE_OUTAGE", False)
# A deposit authorised before the car leaves (at pick-up, or ahead through POST /rentals/{id}/payments/), of the
# booking's price plus this margin for the return's fees; captured at the return, the rest released.
BOOKING_DEPOSIT_REQUIRED = env_bool("BOOKING_DEPOSIT_REQUIRED", False)
BOOKING_DEPOSIT_MARGIN_PERCENT = env_int("BOOKING_DEPOSIT_MARGIN_PERCENT", 20)
