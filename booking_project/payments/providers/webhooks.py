"""Webhooks in Stripe's shape, which the fake provider sends too: the signature checked (Stripe's scheme,
`t=<unix time>,v1=<HMAC-SHA256>`, verified by the SDK with a 5-minute tolerance), then the event read."""

from __future__ import annotations

import json
from collections.abc import Mapping

import stripe
from django.conf import settings

from .base import EVENT_TYPES, BadSignature, UnsupportedEvent, WebhookEvent


def signed_event(body: bytes, headers: Mapping[str, str], *, header: str) -> WebhookEvent:
    """The event in `body`, once the `header` signature verifies with BOOKING_PAYMENT_WEBHOOK_SECRET."""
    try:
        stripe.WebhookSignature.verify_header(
            body.decode("utf-8"), headers.get(header, ""), settings.BOOKING_PAYMENT_WEBHOOK_SECRET, tolerance=300
        )
    except (stripe.SignatureVerificationError, UnicodeDecodeError) as exc:
        raise BadSignature(f"The {header} header does not verify.") from exc
    return event_from_stripe_shape(body)


def event_from_stripe_shape(body: bytes) -> WebhookEvent:
    """{"id", "type", "data": {"object": {...}}}: the intent is the object's id, or a charge's payment_intent."""
    try:
        event = json.loads(body)
        kind, event_id, obj = event["type"], event["id"], event["data"]["object"]
        if not (isinstance(kind, str) and isinstance(event_id, str) and isinstance(obj, dict) and event_id):
            raise TypeError
    except (ValueError, KeyError, TypeError) as exc:
        raise UnsupportedEvent("The body is not an event: {id, type, data: {object}}.") from exc
    if kind not in EVENT_TYPES:
        raise UnsupportedEvent(f"Events of type {kind[:100]!r} are not acted on.")
    ref = obj.get("payment_intent") if kind.startswith("charge.") else obj.get("id")
    if not isinstance(ref, str) or not ref:
        raise UnsupportedEvent("The event names no payment intent.")
    return WebhookEvent(id=event_id[:255], type=kind, ref=ref[:255])
