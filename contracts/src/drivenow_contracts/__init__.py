"""DriveNow's service contract: DTOs, error codes and the typed InventoryClient."""

from .client import InventoryClient
from .dto import Car, CarPage, CarStatus, Reservation, ReservationPage, ReservationState
from .errors import (
    CarNotFound,
    CarNotReturned,
    CarUnavailable,
    ClassUnavailable,
    ContractError,
    ErrorCode,
    ExtensionConflict,
    InventoryRejected,
    InventoryUnavailable,
    NotStarted,
    ReservationConflict,
    ReservationNotFound,
)
from .roles import Role

__all__ = [
    "Car",
    "CarNotFound",
    "CarNotReturned",
    "CarPage",
    "CarStatus",
    "CarUnavailable",
    "ClassUnavailable",
    "ContractError",
    "ErrorCode",
    "ExtensionConflict",
    "InventoryClient",
    "InventoryRejected",
    "InventoryUnavailable",
    "NotStarted",
    "Reservation",
    "ReservationConflict",
    "ReservationNotFound",
    "ReservationPage",
    "ReservationState",
    "Role",
]
