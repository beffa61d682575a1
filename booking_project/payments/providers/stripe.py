"""The Stripe provider (BOOKING_PAYMENT_PROVIDER=stripe) over the official SDK: PaymentIntents, confirmed at once
with the payment method the front desk's terminal or the customer's browser produced; a deposit is a manual-capture
authorisation. Every call carries an idempotency key (the outbox row's, or the payment's for an authorisation), so
a call retried after a lost answer is answered as the first one and never charges twice. The SDK retries nothing
itself: the outbox does, with backoff. Webhooks are verified with the endpoint's signing secret (Stripe-Signature)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import stripe
from django.conf import settings

from .base import (
    Intent,
    IntentStatus,
    ProviderDeclined,
    ProviderRefused,
    ProviderUnavailable,
    WebhookEvent,
)
from .webhooks import signed_event

SIGNATURE_HEADER = "Stripe-Signature"
T = TypeVar("T")
STATUSES = {
    "requires_payment_method": IntentStatus.FAILED,  # the confirmation failed: declined
    "requires_confirmation": IntentStatus.REQUIRES_ACTION,
    "requires_action": IntentStatus.REQUIRES_ACTION,
    "processing": IntentStatus.REQUIRES_ACTION,
    "requires_capture": IntentStatus.AUTHORIZED,
    "succeeded": IntentStatus.SUCCEEDED,
    "canceled": IntentStatus.CANCELED,
}


class StripeProvider:
    name = "stripe"
    needs_method = True

    def __init__(self) -> None:
        self.client = stripe.StripeClient(
            settings.BOOKING_STRIPE_SECRET_KEY,
            http_client=stripe.RequestsClient(timeout=settings.BOOKING_PAYMENT_TIMEOUT),
            max_network_retries=0,
            base_addresses={"api": settings.BOOKING_STRIPE_API_BASE},
        )

    def authorize(
        self,
        *,
        amount: int,
        currency: str,
        method: str,
        capture: bool,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> Intent:
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency.lower(),
            "payment_method": method,
            "confirm": True,
            "capture_method": "automatic" if capture else "manual",
            "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
            "metadata": dict(metadata),
            "expand": ["latest_charge"],
        }
        return self._intent(
            _call(lambda: self.client.v1.payment_intents.create(params=params, options=_key(idempotency_key)))  # type: ignore[arg-type]
        )

    def capture(self, *, ref: str, amount: int, idempotency_key: str) -> Intent:
        params = {"amount_to_capture": amount, "expand": ["latest_charge"]}
        return self._intent(
            _call(lambda: self.client.v1.payment_intents.capture(ref, params=params, options=_key(idempotency_key)))  # type: ignore[arg-type]
        )

    def cancel(self, *, ref: str, idempotency_key: str) -> Intent:
        params = {"expand": ["latest_charge"]}
        return self._intent(
            _call(lambda: self.client.v1.payment_intents.cancel(ref, params=params, options=_key(idempotency_key)))  # type: ignore[arg-type]
        )

    def refund(self, *, ref: str, amount: int, idempotency_key: str) -> Intent:
        params = {"payment_intent": ref, "amount": amount}
        _call(lambda: self.client.v1.refunds.create(params=params, options=_key(idempotency_key)))  # type: ignore[arg-type]
        return self.retrieve(ref=ref)

    def retrieve(self, *, ref: str) -> Intent:
        params = {"expand": ["latest_charge"]}
        return self._intent(_call(lambda: self.client.v1.payment_intents.retrieve(ref, params=params)))  # type: ignore[arg-type]

    def parse_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        return signed_event(body, headers, header=SIGNATURE_HEADER)

    @staticmethod
    def _intent(resource: Any) -> Intent:
        pi = resource.to_dict() if hasattr(resource, "to_dict") else dict(resource)  # nested objects as dicts too
        charge = pi.get("latest_charge")
        refunded = charge.get("amount_refunded", 0) if isinstance(charge, Mapping) else 0
        error = pi.get("last_payment_error") or {}
        action = pi.get("next_action") or {}
        redirect = (action.get("redirect_to_url") or {}).get("url", "") if isinstance(action, Mapping) else ""
        return Intent(
            ref=pi["id"],
            status=STATUSES.get(pi["status"], IntentStatus.REQUIRES_ACTION),
            amount=int(pi["amount"]),
            currency=str(pi["currency"]).upper(),
            received=int(pi.get("amount_received") or 0),
            refunded=int(refunded or 0),
            decline_code=str(error.get("decline_code") or error.get("code") or ""),
            next_action_url=str(redirect or ""),
        )


def _key(idempotency_key: str) -> dict[str, str]:
    return {"idempotency_key": idempotency_key}


def _call(call: Callable[[], T]) -> T:
    """One call to Stripe, its errors as the provider interface's: a declined card, a refusal for good, or no answer
    worth trusting (connection, timeout, 5xx, rate limit, our credentials): to be tried again with the same key."""
    try:
        return call()
    except stripe.CardError as exc:
        raise ProviderDeclined(exc.user_message or "The card was declined.", code=_code(exc)) from exc
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.AuthenticationError) as exc:
        raise ProviderUnavailable(f"Stripe: {exc.__class__.__name__}: {exc.user_message or exc}") from exc
    except stripe.IdempotencyError as exc:  # the same key in flight elsewhere (a 409): its answer comes on a retry
        raise ProviderUnavailable(f"Stripe: the same call is in flight: {exc.user_message or exc}") from exc
    except (stripe.InvalidRequestError, stripe.PermissionError) as exc:
        raise ProviderRefused(f"Stripe refused: {exc.user_message or exc}", code=_code(exc)) from exc
    except stripe.StripeError as exc:  # APIError and the rest: a 5xx or an answer we cannot read
        if exc.http_status is not None and 400 <= exc.http_status < 500:
            raise ProviderRefused(f"Stripe refused: {exc.user_message or exc}", code=_code(exc)) from exc
        raise ProviderUnavailable(f"Stripe: {exc.__class__.__name__}: {exc.user_message or exc}") from exc


def _code(exc: stripe.StripeError) -> str:
    error = exc.error
    return str((error and (error.decline_code or error.code)) or exc.code or "")
