"""The payments domain's errors, each with its stable code and HTTP status."""

from __future__ import annotations

from typing import Any

from drivenow_contracts import ErrorCode
from drivenow_contracts.server.errors import DomainError


class PaymentNotFound(DomainError):
    code, http_status, default_detail = ErrorCode.PAYMENT_NOT_FOUND, 404, "No payment with this id."


class PaymentDeclined(DomainError):
    code, http_status, default_detail = ErrorCode.PAYMENT_DECLINED, 402, "The card was declined; nothing was taken."

    def __init__(self, detail: str | None = None, *, decline_code: str = "", payment_id: str = "") -> None:
        super().__init__(detail)
        self.decline_code, self.payment_id = decline_code, payment_id

    def extra_members(self) -> dict[str, Any]:
        return {"decline_code": self.decline_code or "card_declined", "payment_id": self.payment_id}


class PaymentRequired(DomainError):
    code, http_status = ErrorCode.PAYMENT_REQUIRED, 402
    default_detail = "A deposit must be authorised before the car is handed out: send payment_method."


class PaymentState(DomainError):
    code, http_status, default_detail = ErrorCode.PAYMENT_STATE, 409, "The payment cannot do this now."


class PaymentUnavailable(DomainError):
    code, http_status = ErrorCode.PAYMENT_UNAVAILABLE, 503
    default_detail = "The payment provider did not answer; nothing was taken. Try again shortly."
    retry_after = 5


class PaymentRefused(DomainError):
    """Something about the request the payment cannot be made of: no currency, no method, a mixed currency."""

    code, http_status, default_detail = ErrorCode.INVALID, 422, "This payment cannot be made."


class PaymentCurrencyMismatch(DomainError):
    code, http_status = ErrorCode.CURRENCY_MISMATCH, 422
    default_detail = "The rental is billed in another currency."


class PaymentKeyReused(DomainError):
    code, http_status = ErrorCode.IDEMPOTENCY_KEY_REUSED, 422
    default_detail = "This Idempotency-Key came with another payment."


class PaidRentalNotFound(DomainError):
    code, http_status, default_detail = ErrorCode.RENTAL_NOT_FOUND, 404, "No rental with this id."


class BadSignature(DomainError):
    code, http_status, default_detail = ErrorCode.BAD_SIGNATURE, 400, "The webhook's signature does not verify."


class UnsupportedEvent(DomainError):
    code, http_status, default_detail = ErrorCode.UNSUPPORTED_EVENT, 422, "This event is not acted on."


class UnknownProvider(DomainError):
    code, http_status, default_detail = ErrorCode.NOT_FOUND, 404, "No such payment provider here."
