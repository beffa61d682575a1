"""The rental domain's errors, each with its stable code and HTTP status."""

from __future__ import annotations

from django.conf import settings

from customers.errors import CustomerNotFound
from drivenow_contracts import ErrorCode
from drivenow_contracts.server.errors import DomainError


class RentalNotFound(DomainError):
    code, http_status, default_detail = ErrorCode.RENTAL_NOT_FOUND, 404, "No rental with this id."


class RentalNotActive(DomainError):
    code, http_status, default_detail = ErrorCode.RENTAL_NOT_ACTIVE, 409, "Only an active rental can be ended."


class RentalCustomerNotFound(CustomerNotFound):
    """The customer named in a start request does not exist: the request is unprocessable, not the URL unknown."""

    http_status = 422


class RentalCustomerInactive(DomainError):
    code, http_status, default_detail = ErrorCode.CUSTOMER_INACTIVE, 422, "A deactivated customer cannot rent."


class RentalCarUnavailable(DomainError):
    code, http_status, default_detail = ErrorCode.CAR_UNAVAILABLE, 409, "The car is not available."


class RentalCarNotFound(DomainError):
    code, http_status, default_detail = ErrorCode.CAR_NOT_FOUND, 422, "Inventory has no car with this id."


class RentalInventoryUnavailable(DomainError):
    """The outcome of the reserve call is unknown: the rental failed and a release is queued, so nothing stays
    held — or, with an Idempotency-Key, it stays pending for the retry (and the sweep, if none comes)."""

    code, http_status = ErrorCode.INVENTORY_UNAVAILABLE, 503
    default_detail = "Inventory could not be reached in time; the rental was not started and no car is held. Try again."

    @property
    def retry_after(self) -> int:
        return int(settings.BOOKING_RETRY_AFTER_SECONDS)


class IdempotencyKeyReused(DomainError):
    code, http_status = ErrorCode.IDEMPOTENCY_KEY_REUSED, 422
    default_detail = "This Idempotency-Key was used with a different request body."


class IdempotencyKeyInUse(DomainError):
    code, http_status = ErrorCode.IDEMPOTENCY_KEY_IN_USE, 409
    default_detail = "A request with this Idempotency-Key is still being processed; retry shortly."


class GivenProblem(DomainError):
    """A problem whose status, code and detail are given, not this class's: one answered before, or another
    service's."""

    def __init__(self, *, status: int, code: str, detail: str) -> None:
        self.http_status = status
        self.code = code  # type: ignore[assignment]
        super().__init__(detail or code)


class ReplayedProblem(GivenProblem):
    """The stored problem answer of an Idempotency-Key, raised again so it renders exactly as it did the first time."""


class IncompleteBooking(DomainError):
    """A start body the schema accepts but that is neither a walk-in nor a booking (a class without a branch, a
    window with one end, a car and a class): unprocessable, not malformed."""

    code, http_status = ErrorCode.INVALID, 422


class RentalNotReserved(DomainError):
    code, http_status = ErrorCode.RENTAL_NOT_RESERVED, 409
    default_detail = "Only a rental booked ahead and not yet picked up can be picked up or cancelled."


class PickupInPast(DomainError):
    code, http_status, default_detail = ErrorCode.PICKUP_IN_PAST, 422, "The pick-up time has passed."


class ReturnBeforePickup(DomainError):
    code, http_status, default_detail = ErrorCode.RETURN_BEFORE_PICKUP, 422, "The return must come after the pick-up."


class RentalClassUnavailable(DomainError):
    code, http_status = ErrorCode.CLASS_UNAVAILABLE, 409
    default_detail = "No car of this class at this branch is free for the whole window."


class InventoryRefused(GivenProblem):
    """Inventory refused a call for a reason the client reports as it is (its status and code): passed on."""


# A booking's failure → (status, code, detail) of the answer its start gives.
_BOOKING_FAILURES = {
    "class_unavailable": (409, "No car of this class at this branch is free for the whole window."),
    "outside_opening_hours": (422, "The branch is closed at the pick-up or the return time."),
    "window_too_short": (422, "The window is shorter than this class's minimum rental."),
    "vehicle_class_not_found": (422, "Inventory has no vehicle class with this code."),
    "location_not_found": (422, "Inventory has no branch with this code."),
    "return_before_pickup": (422, "The window does not end after it starts, or is over."),
}


def error_of_failure(failure_code: str | None) -> DomainError | None:
    """What a start answers for a rental that failed this way; None: the outcome was unknown (a 503, not kept)."""
    from .models import FailureCode

    error_type = {FailureCode.CAR_UNAVAILABLE: RentalCarUnavailable, FailureCode.CAR_NOT_FOUND: RentalCarNotFound}.get(
        failure_code or ""
    )
    if error_type is not None:
        return error_type()
    if failure_code in _BOOKING_FAILURES:
        status, detail = _BOOKING_FAILURES[failure_code]
        return InventoryRefused(status=status, code=failure_code, detail=detail)
    return None
