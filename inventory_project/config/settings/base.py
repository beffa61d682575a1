"""Settings of the inventory service in every environment (local, test and production build on this).

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
    # django.contrib.admin, on a site that adds the planning board (config/admin.py)
    "config.apps.InventoryAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    # Admin (and API browser) login: failed attempts counted per username and address, locked out for a while.
    "axes",
    "fleet",
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


# PostgreSQL on psycopg 3 with Django's connection pool, from INVENTORY_DB_*. CONN_MAX_AGE must stay 0 when the pool
# is on; INVENTORY_DB_POOL_MAX=0 turns the pool off.
_POOL_MAX = env_int("INVENTORY_DB_POOL_MAX", 8)
_DB_OPTIONS: dict[str, Any] = {"connect_timeout": env_int("INVENTORY_DB_CONNECT_TIMEOUT", 3)}
# How long one statement may wait for a row lock, and run, in milliseconds (0: for ever, PostgreSQL's default). The
# server sets both (config/gunicorn.conf.py): a request stuck behind another transaction answers 503 with
# Retry-After instead of hanging until gunicorn kills its worker. Migrations and commands keep PostgreSQL's default.
_DB_SESSION = {
    "lock_timeout": env_int("INVENTORY_DB_LOCK_TIMEOUT_MS", 0),
    "statement_timeout": env_int("INVENTORY_DB_STATEMENT_TIMEOUT_MS", 0),
}
if any(_DB_SESSION.values()):
    _DB_OPTIONS["options"] = " ".join(f"-c {name}={ms}" for name, ms in _DB_SESSION.items() if ms)
if _POOL_MAX > 0:
    _DB_OPTIONS["pool"] = {
        "min_size": 1,
        "max_size": _POOL_MAX,
        "timeout": env_int("INVENTORY_DB_POOL_TIMEOUT", 5),
        # While the database is away the pool retries with exponential backoff (1, 2, 4, … s) for this long, then
        # starts again from 1 s: it finds the database at most a few seconds after it is back (psycopg's default,
        # 300 s, lets the gap between attempts grow to minutes).
        "reconnect_timeout": env_int("INVENTORY_DB_POOL_RECONNECT_TIMEOUT", 10),
    }
DATABASES = {
    "default": {
        "ENGINE": "django_prometheus.db.backends.postgresql",
        "NAME": env("INVENTORY_DB_NAME", "cars_inventory_db"),
        "USER": env("INVENTORY_DB_USER", "drivenow"),
        "PASSWORD": env("INVENTORY_DB_PASSWORD", ""),
        "HOST": env("INVENTORY_DB_HOST", "127.0.0.1"),
        "PORT": env("INVENTORY_DB_PORT", "5432"),
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

# A booked car may be picked up this many minutes before its hold starts, when nothing holds it until then.
INVENTORY_EARLY_PICKUP_MINUTES = env_int("INVENTORY_EARLY_PICKUP_MINUTES", 120)

# Caches: `default` and the throttle counters are per-process memory (no shared cache server to run); see
# config/security.py for what that means for the rates.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "drivenow-default"},
    "throttle": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "drivenow-throttle"},
}

# Requests per client and period, per process: "<n>/<s|min|hour|day>", or "off". Service accounts (settings
# DRIVENOW_SERVICE_PERMISSIONS, e.g. booking's account in inventory) are not throttled unless given a rate.
THROTTLE_RATES = {
    "anon": env_rate("DJANGO_THROTTLE_ANON", "60/min"),
    "user": env_rate("DJANGO_THROTTLE_USER", "600/min"),
    "service": env_rate("DJANGO_THROTTLE_SERVICE", "off"),
}
DRIVENOW_SERVICE_PERMISSIONS: list[str] = []

# Who may call, by configuration (DJANGO_AUTH_METHODS: token, session, jwt, oidc — see
# drivenow_contracts.server.identity).
# Inventory only verifies JWTs (public key) and trusts their roles; its staff are fleet staff and admins.
IDENTITY = identity.from_env(os.environ, issues_tokens=False, database_users=False)
DRIVENOW_AUTH_METHODS = IDENTITY.methods
DRIVENOW_JWT_DATABASE_USERS = IDENTITY.database_users
DRIVENOW_STAFF_ROLES = (Role.ADMIN, Role.FLEET_STAFF)
SIMPLE_JWT = IDENTITY.simple_jwt
DRIVENOW_OIDC = IDENTITY.oidc

REST_FRAMEWORK = {
    **conventions.REST_FRAMEWORK,
    "DEFAULT_AUTHENTICATION_CLASSES": IDENTITY.authentication_classes,
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": [
        "config.security.AnonRateThrottle",
        "config.security.UserRateThrottle",
        "config.security.ServiceRateThrottle",
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

SPECTACULAR_SETTINGS = {
    **conventions.SPECTACULAR_SETTINGS,
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
