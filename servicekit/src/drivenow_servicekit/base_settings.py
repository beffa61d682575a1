"""Settings every DriveNow service shares; a service's `config/settings/base.py` star-imports this first.

Reads the environment once. A service adds INSTALLED_APPS, ROOT_URLCONF, DATABASES (see `database()`),
SPECTACULAR_SETTINGS and its own knobs.
"""
from __future__ import annotations

import os
from typing import Any

from .settings import env, env_bool, env_int, env_list

# prometheus_client writes per-process files there as soon as a metric is created: a management command (migrate,
# the relay) must not crash because the directory it was given does not exist yet.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

SECRET_KEY = env("DJANGO_SECRET_KEY", "")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

DJANGO_APPS = [
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
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "drivenow_servicekit.observability.RequestIDMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "drivenow_servicekit.errors.DatabaseUnavailableMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

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


def database(prefix: str, default_name: str) -> dict[str, Any]:
    """The `default` database from <PREFIX>_DB_* variables, on psycopg 3 with Django's connection pool.

    CONN_MAX_AGE must stay 0 when the pool is on; <PREFIX>_DB_POOL_MAX=0 turns the pool off.
    """
    pool_max = env_int(f"{prefix}_DB_POOL_MAX", 8)
    options: dict[str, Any] = {"connect_timeout": env_int(f"{prefix}_DB_CONNECT_TIMEOUT", 3)}
    if pool_max > 0:
        options["pool"] = {"min_size": 1, "max_size": pool_max, "timeout": env_int(f"{prefix}_DB_POOL_TIMEOUT", 5)}
    return {
        "ENGINE": "django_prometheus.db.backends.postgresql",
        "NAME": env(f"{prefix}_DB_NAME", default_name),
        "USER": env(f"{prefix}_DB_USER", "drivenow"),
        "PASSWORD": env(f"{prefix}_DB_PASSWORD", ""),
        "HOST": env(f"{prefix}_DB_HOST", "127.0.0.1"),
        "PORT": env(f"{prefix}_DB_PORT", "5432"),
        "CONN_MAX_AGE": 0,
        "OPTIONS": options,
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

STATIC_URL = "static/"  # STATIC_ROOT: per service
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# 1 MiB of JSON is far more than any car or reservation body; larger bodies are refused with 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

# A verified API token is remembered per process this long (see drivenow_servicekit.auth); 0 = look it up every time.
DRIVENOW_TOKEN_CACHE_SECONDS = env_int("DJANGO_TOKEN_CACHE_SECONDS", 30)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "drivenow_servicekit.auth.CachedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "drivenow_servicekit.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PAGINATION_CLASS": "drivenow_servicekit.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "drivenow_servicekit.filters.StableOrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "drivenow_servicekit.errors.problem_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

LOG_FORMAT = env("DJANGO_LOG_FORMAT", "text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "drivenow_servicekit.observability.RequestIDLogFilter"}},
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


# drf-spectacular: docs assets served from the sidecar package (no CDN); a service adds TITLE etc.
SPECTACULAR_DEFAULTS: dict[str, Any] = {
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}
