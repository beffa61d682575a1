"""Secrets that are not: the example and demo values published in this repository (.env.example,
deploy/k8s/secret.example.yaml, the defaults earlier versions of docker-compose.yml and seed_demo shipped).
Production settings refuse to start with any of them; deploy/tests checks every example file against this list."""

from __future__ import annotations

import re
from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured

PUBLISHED_SECRETS = frozenset(
    {
        # deploy/k8s/secret.example.yaml
        "change-me-to-50-or-more-random-characters-000000000000",
        "change-me-to-50-or-more-random-characters-111111111111",
        "change-me",
        "changemeservicetoken000000000000000000",
        # docker-compose.yml's defaults before it required every secret
        "insecure-demo-key-for-docker-compose-only-change-me-0123456789",
        "insecure-demo-key-for-docker-compose-only-change-me-9876543210",
        "drivenow-demo",
        "demoservicetoken0000000000000000000000",
        "demostafftoken00000000000000000000000000",
        # seed_demo's staff password before it had none by default
        "drivenow-staff",
    }
)
# Words nobody puts in a generated secret: whoever copies an example and edits a digit still gets refused.
PLACEHOLDER = re.compile(r"change-?me|insecure|example|placeholder", re.IGNORECASE)
# The settings that carry a secret, by name (DJANGO_SECRET_KEY, INVENTORY_DB_PASSWORD, BOOKING_INVENTORY_TOKEN, ...).
SECRET_SETTING = re.compile(r"^(DJANGO|INVENTORY|BOOKING|DRIVENOW)_\w*(SECRET_KEY|PASSWORD|TOKEN)$")


def is_published(value: str) -> bool:
    """True for a value anyone can read in this repository, or one that is plainly a placeholder."""
    return value in PUBLISHED_SECRETS or bool(PLACEHOLDER.search(value)) or 0 < len(set(value)) < 5


def refuse_published_secrets(environ: Mapping[str, str]) -> None:
    """ImproperlyConfigured naming the first secret setting in `environ` whose value is published."""
    for name, value in sorted(environ.items()):
        if SECRET_SETTING.match(name) and value and is_published(value):
            raise ImproperlyConfigured(
                f"{name} is an example value published with DriveNow, not a secret: set a generated one, e.g. "
                "python -c 'import secrets; print(secrets.token_hex(20))' (40 characters; 50+ for a secret key)."
            )
