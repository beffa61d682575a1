"""Booking in production: no default secret and no published one, DEBUG off, secure cookies and headers, JSON
logs, over the booking base; inventory's token is required."""

import os
import secrets

from django.core.exceptions import ImproperlyConfigured

from config.env import env, env_bool, env_int
from config.published_secrets import refuse_published_secrets

from .base import *

SECRET_KEY = env("DJANGO_SECRET_KEY", "") or ""
if len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set (50+ random characters) in production.")
# The repository's example values pass every length check: refuse them, and any other secret setting carrying one.
refuse_published_secrets(os.environ)

DEBUG = False
# TLS ends at the gateway / ingress, which sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
# Probes and Prometheus talk plain HTTP inside the cluster.
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = env_bool("DJANGO_SESSION_COOKIE_SECURE", True)
CSRF_COOKIE_SECURE = env_bool("DJANGO_CSRF_COOKIE_SECURE", True)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Content-Security-Policy on every answer, next to SecurityMiddleware's headers.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "config.security.ContentSecurityPolicyMiddleware",
)

LOGGING["handlers"]["console"]["formatter"] = env("DJANGO_LOG_FORMAT", "json")

if not BOOKING_INVENTORY_TOKEN:
    raise ImproperlyConfigured(
        "BOOKING_INVENTORY_TOKEN must be set in production (inventory's `manage.py create_service_account`)."
    )

if BOOKING_PAYMENT_PROVIDER == "stripe" and not BOOKING_STRIPE_SECRET_KEY:
    raise ImproperlyConfigured("BOOKING_PAYMENT_PROVIDER=stripe needs BOOKING_STRIPE_SECRET_KEY.")
if BOOKING_PAYMENT_WEBHOOK_SECRET in ("", "whsec_drivenow_local_only"):
    # The published default signs nothing a provider sends: a random one, so no webhook verifies until it is set.
    BOOKING_PAYMENT_WEBHOOK_SECRET = secrets.token_hex(32)
    if BOOKING_PAYMENT_PROVIDER == "stripe":
        raise ImproperlyConfigured("BOOKING_PAYMENT_PROVIDER=stripe needs BOOKING_PAYMENT_WEBHOOK_SECRET (whsec_…).")
