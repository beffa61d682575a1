"""What every payment provider offers booking: authorize, capture, cancel, refund, retrieve, parse a webhook.

A provider speaks in `Intent`s — the provider's record of one payment (Stripe's PaymentIntent): its reference,
state and amounts as the provider knows them. Booking keeps its own `Payment` row and moves it only by what a
provider answered or a re-read of the intent says, so the order webhooks arrive in does not matter."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class IntentStatus(StrEnum):
    REQUIRES_ACTION = "requires_action"  # 3-D Secure: the customer must confirm with their bank
    AUTHORIZED = "authorized"  # held on the card, to be captured or cancelled (Stripe: requires_capture)
    SUCCEEDED = "succeeded"  # captured: the money is taken
    CANCELED = "canceled"  # the authorisation released (by us, or expired)
    FAILED = "failed"  # declined


@dataclass(frozen=True)
class Intent:
    ref: str
    status: IntentStatus
    amount: int
    currency: str
    received: int = 0  # captured so far
    refunded: int = 0
    decline_code: str = ""
    next_action_url: str = ""  # where the customer confirms a payment that requires action


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    type: str
    ref: str  # the intent the event is about


class ProviderError(Exception):
    """Base of what a provider raises; `code` is the provider's own reason, when it gave one."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class ProviderUnavailable(ProviderError):
    """The provider did not answer (timeout, connection, 5xx, rate limited): the call may be tried again with
    the same idempotency key, which the provider answers as the first call if it did land."""


class ProviderDeclined(ProviderError):
    """The card was declined: insufficient funds, a stolen card, …; nothing is held."""


class ProviderRefused(ProviderError):
    """The provider refused the operation for good: the authorisation expired, the intent is in another state."""


class BadSignature(ProviderError):
    """A webhook whose signature does not verify with the signing secret."""


class UnsupportedEvent(ProviderError):
    """A signed webhook of a type booking does not act on."""


class PaymentProvider(Protocol):
    name: str
    # Whether a payment needs a payment method (a card token) from the caller.
    needs_method: bool

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
        """Hold `amount` on the card (`capture=False`: a deposit, captured later) or take it at once."""
        ...

    def capture(self, *, ref: str, amount: int, idempotency_key: str) -> Intent: ...

    def cancel(self, *, ref: str, idempotency_key: str) -> Intent: ...

    def refund(self, *, ref: str, amount: int, idempotency_key: str) -> Intent:
        """Refund `amount` of what was captured; answers the intent as it is after the refund."""
        ...

    def retrieve(self, *, ref: str) -> Intent: ...

    def parse_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        """The event in a webhook, after checking its signature (BadSignature) and type (UnsupportedEvent)."""
        ...


# The event types booking acts on (Stripe's names; the fake provider sends the same). Each one only makes booking
# re-read the intent: what the event says is never trusted on its own, since delivery order is not guaranteed.
EVENT_TYPES = frozenset(
    {
        "payment_intent.amount_capturable_updated",
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "payment_intent.requires_action",
        "charge.refunded",
    }
)
