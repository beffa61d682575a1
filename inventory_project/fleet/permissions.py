"""Who may do what: reads are public, car writes need staff, reservations need the booking service's permission."""

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView


class IsStaffOrReadOnly(BasePermission):
    message = "Changing the fleet needs a staff account."

    def has_permission(self, request: Request, view: APIView) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)


class CanManageReservations(BasePermission):
    message = "Reservations are for the booking service's account (fleet.manage_reservations)."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm("fleet.manage_reservations"))


class IsStaff(BasePermission):
    message = "The fleet's plan is for staff accounts."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)
