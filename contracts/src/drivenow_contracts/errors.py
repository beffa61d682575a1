"""Stable error codes shared by every DriveNow service and the typed exceptions the client raises."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """The `code` member of every problem+json body. Values never change meaning once released."""

    # generic
    INVALID = "invalid"
    BAD_REQUEST = "bad_request"  # malformed request or non-canonical path, refused by the gateway or gunicorn
    PARSE_ERROR = "parse_error"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    NOT_AUTHENTICATED = "not_authenticated"
    AUTHENTICATION_FAILED = "authentication_failed"
    PERMISSION_DENIED = "permission_denied"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ACCEPTABLE = "not_acceptable"
    THROTTLED = "throttled"
    REQUEST_TOO_LARGE = "request_too_large"
    DATABASE_UNAVAILABLE = "database_unavailable"
    CONCURRENT_UPDATE = "concurrent_update"  # a deadlock or serialization failure: try again at once
    INTERNAL_ERROR = "internal_error"
    # answered by the gateway when no instance of a service could answer
    BAD_GATEWAY = "bad_gateway"
    SERVICE_UNAVAILABLE = "service_unavailable"
    GATEWAY_TIMEOUT = "gateway_timeout"
    # inventory
    CAR_NOT_FOUND = "car_not_found"
    CAR_EXISTS = "car_exists"
    CAR_UNAVAILABLE = "car_unavailable"
    CAR_HAS_HISTORY = "car_has_history"
    INVALID_STATUS_TRANSITION = "invalid_status_transition"
    RESERVATION_NOT_FOUND = "reservation_not_found"
    RESERVATION_CONFLICT = "reservation_conflict"
    # inventory, v2: the fleet's shape
    LOCATION_NOT_FOUND = "location_not_found"
    LOCATION_EXISTS = "location_exists"
    VEHICLE_CLASS_NOT_FOUND = "vehicle_class_not_found"
    VEHICLE_CLASS_EXISTS = "vehicle_class_exists"
    ODOMETER_DECREASE = "odometer_decrease"
    RETURN_BEFORE_PICKUP = "return_before_pickup"  # a window that does not end after it starts
    CLASS_UNAVAILABLE = "class_unavailable"  # no car of the class at the branch is free for the window
    CAR_NOT_RETURNED = "car_not_returned"  # pick-up: the booked car is still out on an earlier rental
    NOT_STARTED = "not_started"  # pick-up: too early for this hold
    EXTENSION_CONFLICT = "extension_conflict"  # the new end runs into the car's next hold or block
    BLOCK_NOT_FOUND = "block_not_found"
    OUTSIDE_OPENING_HOURS = "outside_opening_hours"  # a pick-up or return when the branch is closed
    WINDOW_TOO_SHORT = "window_too_short"  # shorter than the class's minimum rental
    PICKUP_IN_PAST = "pickup_in_past"
    RENTAL_NOT_RESERVED = "rental_not_reserved"  # cancel / pick-up of a rental that is not booked ahead
    # booking
    CUSTOMER_NOT_FOUND = "customer_not_found"
    CUSTOMER_EXISTS = "customer_exists"
    CUSTOMER_INACTIVE = "customer_inactive"
    RENTAL_NOT_FOUND = "rental_not_found"
    RENTAL_NOT_ACTIVE = "rental_not_active"
    INVENTORY_UNAVAILABLE = "inventory_unavailable"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    IDEMPOTENCY_KEY_IN_USE = "idempotency_key_in_use"
    # booking, v2: money
    RATE_PLAN_NOT_FOUND = "rate_plan_not_found"
    RATE_PLAN_OVERLAP = "rate_plan_overlap"  # another plan for the class and branch is in force then
    EXTRA_NOT_FOUND = "extra_not_found"
    EXTRA_EXISTS = "extra_exists"
    QUOTE_NOT_FOUND = "quote_not_found"
    NO_RATE_PLAN = "no_rate_plan"  # no plan prices the class for (part of) the window
    CURRENCY_MISMATCH = "currency_mismatch"  # plans or extras of one quote in different currencies
    QUOTE_EXPIRED = "quote_expired"  # a booking named a quote past its expires_at
    QUOTE_MISMATCH = "quote_mismatch"  # a booking named a quote for another class, branch or window
    # booking, v2: payments
    PAYMENT_NOT_FOUND = "payment_not_found"
    PAYMENT_DECLINED = "payment_declined"  # 402: the provider declined the card (its reason in `decline_code`)
    PAYMENT_REQUIRED = "payment_required"  # 402: a deposit must be authorised before the car is handed out
    PAYMENT_STATE = "payment_state"  # the payment cannot do this now (already captured, one live already, …)
    PAYMENT_UNAVAILABLE = "payment_unavailable"  # 503: the payment provider did not answer; nothing was taken
    BAD_SIGNATURE = "bad_signature"  # a webhook whose signature does not verify
    UNSUPPORTED_EVENT = "unsupported_event"  # a webhook of a type this service does not act on
    PDF_UNAVAILABLE = "pdf_unavailable"  # 503: this host cannot render the PDF invoice (the HTML page it can)


class ContractError(Exception):
    """Base of every error the contract client raises."""

    code: ErrorCode = ErrorCode.INTERNAL_ERROR

    def __init__(self, detail: str = "", *, status: int | None = None) -> None:
        super().__init__(detail or self.code.value)
        self.detail = detail
        self.status = status


class CarNotFound(ContractError):
    code = ErrorCode.CAR_NOT_FOUND


class CarUnavailable(ContractError):
    code = ErrorCode.CAR_UNAVAILABLE


class ReservationNotFound(ContractError):
    code = ErrorCode.RESERVATION_NOT_FOUND


class ReservationConflict(ContractError):
    """The reservation id is already used for another car."""

    code = ErrorCode.RESERVATION_CONFLICT


class ClassUnavailable(ContractError):
    """No car of the class at the branch is free for the whole window."""

    code = ErrorCode.CLASS_UNAVAILABLE


class CarNotReturned(ContractError):
    """Pick-up: the booked car is still out on an earlier rental (reassign the hold to another car)."""

    code = ErrorCode.CAR_NOT_RETURNED


class NotStarted(ContractError):
    """Pick-up: too early for this hold."""

    code = ErrorCode.NOT_STARTED


class ExtensionConflict(ContractError):
    """The new end runs into the car's next hold or block; nothing changed."""

    code = ErrorCode.EXTENSION_CONFLICT


class InventoryUnavailable(ContractError):
    """Inventory could not be reached, timed out, answered 5xx or off-contract: the outcome of the call is unknown."""

    code = ErrorCode.INVENTORY_UNAVAILABLE


class InventoryRejected(ContractError):
    """Inventory refused the request for a reason the client has no dedicated type for (4xx)."""

    def __init__(self, detail: str = "", *, status: int | None = None, code: str = "") -> None:
        super().__init__(detail, status=status)
        self.raw_code = code


EXCEPTIONS_BY_CODE: dict[str, type[ContractError]] = {
    ErrorCode.CAR_NOT_FOUND: CarNotFound,
    ErrorCode.CAR_UNAVAILABLE: CarUnavailable,
    ErrorCode.RESERVATION_NOT_FOUND: ReservationNotFound,
    ErrorCode.RESERVATION_CONFLICT: ReservationConflict,
    ErrorCode.CLASS_UNAVAILABLE: ClassUnavailable,
    ErrorCode.CAR_NOT_RETURNED: CarNotReturned,
    ErrorCode.NOT_STARTED: NotStarted,
    ErrorCode.EXTENSION_CONFLICT: ExtensionConflict,
}
