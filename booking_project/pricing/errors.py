"""The pricing domain's errors, each with its stable code and HTTP status."""

from __future__ import annotations

from drivenow_contracts import ErrorCode
from drivenow_contracts.server.errors import DomainError


class RatePlanNotFound(DomainError):
    code, http_status, default_detail = ErrorCode.RATE_PLAN_NOT_FOUND, 404, "No rate plan with this id."


class RatePlanOverlap(DomainError):
    code, http_status = ErrorCode.RATE_PLAN_OVERLAP, 409
    default_detail = "Another plan for this class and branch is in force during this validity."


class RatePlanValidity(DomainError):
    code, http_status, default_detail = ErrorCode.INVALID, 422, "A plan's validity must end after it starts."


class ExtraNotFound(DomainError):
    code, http_status, default_detail = ErrorCode.EXTRA_NOT_FOUND, 404, "No extra with this id."


class NamedExtraNotFound(ExtraNotFound):
    """An extra a quote asks for by code does not exist: the request is unprocessable, not the URL unknown."""

    http_status = 422


class ExtraExists(DomainError):
    code, http_status, default_detail = ErrorCode.EXTRA_EXISTS, 409, "An extra has this code already."


class ExtrasRefused(DomainError):
    """More of an extra than it allows, or one extra asked for twice."""

    code, http_status, default_detail = ErrorCode.INVALID, 422, "The extras asked for cannot be quoted."


class QuoteNotFound(DomainError):
    code, http_status, default_detail = ErrorCode.QUOTE_NOT_FOUND, 404, "No quote with this id."


class NoRatePlan(DomainError):
    code, http_status, default_detail = ErrorCode.NO_RATE_PLAN, 422, "No rate plan prices this class for the window."


class CurrencyMismatch(DomainError):
    code, http_status, default_detail = ErrorCode.CURRENCY_MISMATCH, 422, "One quote is priced in one currency."


class QuoteWindowRefused(DomainError):
    """A window that ends before it starts, starts in the past, or is longer than a quote covers."""

    code, http_status, default_detail = ErrorCode.RETURN_BEFORE_PICKUP, 422, "The return must come after the pick-up."


class PickupInPast(DomainError):
    code, http_status, default_detail = ErrorCode.PICKUP_IN_PAST, 422, "The pick-up time has passed."


class QuoteWindowTooLong(DomainError):
    code, http_status, default_detail = ErrorCode.INVALID, 422, "A quote covers at most 366 days."


class BookedQuoteNotFound(QuoteNotFound):
    """A booking names a quote that does not exist: the request is unprocessable, not the URL unknown."""

    http_status = 422


class QuoteExpired(DomainError):
    code, http_status, default_detail = ErrorCode.QUOTE_EXPIRED, 422, "The quote has expired: ask for a new one."


class QuoteMismatch(DomainError):
    code, http_status = ErrorCode.QUOTE_MISMATCH, 422
    default_detail = "The quote prices another class, branch or window than this booking."


class ChargedRentalNotFound(DomainError):
    code, http_status, default_detail = ErrorCode.RENTAL_NOT_FOUND, 404, "No rental with this id."


class ChargeCurrencyMissing(DomainError):
    code, http_status = ErrorCode.INVALID, 422
    default_detail = "This rental has no charges yet: name the line's currency."


class ChargeRefused(DomainError):
    code, http_status, default_detail = ErrorCode.INVALID, 422, "This line cannot be added."


class ChargeKeyReused(DomainError):
    code, http_status = ErrorCode.IDEMPOTENCY_KEY_REUSED, 422
    default_detail = "This Idempotency-Key came with another line."
