"""The roles of DriveNow's people and machines: names both services agree on, carried in tokens' `roles` claim and
kept in each service's database as Django groups of the same names (created by migrations)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"  # everything, in both services (a superuser)
    FLEET_STAFF = "fleet_staff"  # inventory: cars, classes, branches, blocks, the planning board
    FRONT_DESK = "front_desk"  # booking: customers, rentals, hand-overs and returns, payments
    CUSTOMER = "customer"  # booking, self-service: their own record, rentals, charges and payments
    BOOKING_SERVICE = "booking_service"  # inventory: the reservation API, for booking's account
