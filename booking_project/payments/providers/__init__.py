"""The payment provider BOOKING_PAYMENT_PROVIDER names: `fake` (the default; local and CI) or `stripe`."""

from __future__ import annotations

from django.conf import settings

from .base import PaymentProvider

PROVIDERS = ("fake", "stripe")


def provider(name: str | None = None) -> PaymentProvider:
    """The provider of that name (a payment keeps the one it was made with), by default the configured one."""
    name = name or settings.BOOKING_PAYMENT_PROVIDER
    if name == "stripe":
        from .stripe import StripeProvider

        return StripeProvider()
    if name == "fake":
        from .fake import FakeProvider

        return FakeProvider()
    raise LookupError(f"no payment provider {name!r}; BOOKING_PAYMENT_PROVIDER is one of {', '.join(PROVIDERS)}")
