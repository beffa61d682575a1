"""DriveNow's service contract: DTOs, error codes and the typed InventoryClient."""

from .client import InventoryClient
from .dto import Car, CarPage, CarStatus, Reservation, ReservationPage, ReservationState
from .errors import (
    CarNotFound,
    CarUnavailable,
    ContractError,
    ErrorCode,
    InventoryRejected,
    InventoryUnavailable,
    ReservationConflict,
    ReservationNotFound,
)

__all__ = [
    "Car",
    "CarNotFound",
    "CarPage",
    "CarStatus",
    "CarUnavailable",
    "ContractError",
    "ErrorCode",
    "InventoryClient",
    "InventoryRejected",
    "InventoryUnavailable",
    "Reservation",
    "ReservationConflict",
    "ReservationNotFound",
    "ReservationPage",
    "ReservationState",
]
