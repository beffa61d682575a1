"""The inventory domain's errors, each with its stable code and HTTP status."""

from drivenow_contracts import ErrorCode
from drivenow_contracts.server.errors import DomainError


class CarNotFound(DomainError):
    code, http_status, default_detail = ErrorCode.CAR_NOT_FOUND, 404, "No car with this id."


class ReservedCarNotFound(CarNotFound):
    """The car named in a reservation request does not exist: the request is unprocessable, not the URL unknown."""

    http_status = 422


class CarExists(DomainError):
    code, http_status, default_detail = ErrorCode.CAR_EXISTS, 409, "A car with this id or plate already exists."


class CarUnavailable(DomainError):
    code, http_status, default_detail = ErrorCode.CAR_UNAVAILABLE, 409, "The car is not available."


class CarHasHistory(DomainError):
    code, http_status = ErrorCode.CAR_HAS_HISTORY, 409
    default_detail = "The car has reservations and cannot be deleted; retire it instead."


class InvalidStatusTransition(DomainError):
    code, http_status, default_detail = ErrorCode.INVALID_STATUS_TRANSITION, 409, "This status change is not allowed."


class ReservationNotFound(DomainError):
    code, http_status, default_detail = ErrorCode.RESERVATION_NOT_FOUND, 404, "No reservation with this id."


class ReservationConflict(DomainError):
    code, http_status = ErrorCode.RESERVATION_CONFLICT, 409
    default_detail = "This reservation id already holds another car."


class LocationNotFound(DomainError):
    code, http_status, default_detail = ErrorCode.LOCATION_NOT_FOUND, 404, "No branch with this id."


class NamedLocationNotFound(LocationNotFound):
    """A body names a branch code that does not exist: the request is unprocessable, not the URL unknown."""

    http_status, default_detail = 422, "No branch with this code."


class LocationExists(DomainError):
    code, http_status, default_detail = ErrorCode.LOCATION_EXISTS, 409, "A branch with this id or code already exists."


class VehicleClassNotFound(DomainError):
    code, http_status, default_detail = ErrorCode.VEHICLE_CLASS_NOT_FOUND, 404, "No vehicle class with this id."


class NamedVehicleClassNotFound(VehicleClassNotFound):
    """A body names a vehicle class code that does not exist."""

    http_status, default_detail = 422, "No vehicle class with this code."


class VehicleClassExists(DomainError):
    code, http_status = ErrorCode.VEHICLE_CLASS_EXISTS, 409
    default_detail = "A vehicle class with this id or code already exists."


class OdometerDecrease(DomainError):
    code, http_status, default_detail = ErrorCode.ODOMETER_DECREASE, 409, "A car's odometer never goes down."


class ReturnBeforePickup(DomainError):
    """A window that does not end after it starts: well-formed, but nothing can be free (or held) for it."""

    code, http_status, default_detail = ErrorCode.RETURN_BEFORE_PICKUP, 422, "The window must end after it starts."


class ClassUnavailable(DomainError):
    code, http_status = ErrorCode.CLASS_UNAVAILABLE, 409
    default_detail = "No car of this class at this branch is free for the whole window."


class CarNotReturned(DomainError):
    code, http_status = ErrorCode.CAR_NOT_RETURNED, 409
    default_detail = "The booked car is still out on an earlier rental; reassign the hold to another car."


class NotStarted(DomainError):
    code, http_status, default_detail = ErrorCode.NOT_STARTED, 409, "Too early to pick this car up."


class ExtensionConflict(DomainError):
    code, http_status = ErrorCode.EXTENSION_CONFLICT, 409
    default_detail = "The car is held or blocked after this rental; nothing changed."


class BlockNotFound(DomainError):
    code, http_status, default_detail = ErrorCode.BLOCK_NOT_FOUND, 404, "This car has no block with this id."


class IncompleteReservation(DomainError):
    """A reservation body the schema accepts but that names no car: a class without a branch, or a window
    without both ends."""

    code, http_status = ErrorCode.INVALID, 422


class OutsideOpeningHours(DomainError):
    code, http_status, default_detail = ErrorCode.OUTSIDE_OPENING_HOURS, 422, "The branch is closed then."


class WindowTooShort(DomainError):
    code, http_status = ErrorCode.WINDOW_TOO_SHORT, 422
    default_detail = "The window is shorter than this class's minimum rental."
