"""Inventory under test: the throwaway cluster the test command starts; a known key, fast hashing, no pool
(pytest-django makes its database)."""

from config.env import env

from .base import *

SECRET_KEY = env("DJANGO_SECRET_KEY", "test-insecure-key-0123456789abcdef0123456789abcdef")
DEBUG = False
# Tests delete tokens and deactivate users between requests; the cache has its own test.
DRIVENOW_TOKEN_CACHE_SECONDS = 0
# No throttling in-process unless a test turns it on (fleet/tests/test_security.py); live services get their rates
# from the environment (drivenow_contracts.testing turns them off unless a test sets them).
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"anon": None, "user": None, "service": None},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
for database in DATABASES.values():
    database["OPTIONS"].pop("pool", None)
# Serve static files straight from the apps (no collectstatic before tests, no "No directory" warning).
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
