"""Test overrides for every DriveNow service: a known key, fast hashing, no pool (pytest-django makes its DB)."""
from typing import Any

from .settings import env


def apply(namespace: dict[str, Any]) -> None:
    """Called from a service's `test.py` with `globals()` after it star-imported its base."""
    namespace["SECRET_KEY"] = env("DJANGO_SECRET_KEY", "test-insecure-key-0123456789abcdef0123456789abcdef")
    namespace["DEBUG"] = False
    # Tests delete tokens and deactivate users between requests; the cache has its own test.
    namespace["DRIVENOW_TOKEN_CACHE_SECONDS"] = 0
    # No throttling in-process unless a test turns it on (fleet/tests/test_security.py); live services get their rates
    # from the environment (drivenow_servicekit.testing turns them off unless a test sets them).
    namespace["REST_FRAMEWORK"] = {
        **namespace["REST_FRAMEWORK"],
        "DEFAULT_THROTTLE_RATES": {"anon": None, "user": None, "service": None},
    }
    namespace["PASSWORD_HASHERS"] = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    for database in namespace["DATABASES"].values():
        database["OPTIONS"].pop("pool", None)
    # Serve static files straight from the apps (no collectstatic before tests, no "No directory" warning).
    namespace["WHITENOISE_AUTOREFRESH"] = True
    namespace["WHITENOISE_USE_FINDERS"] = True
    namespace["STORAGES"] = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
