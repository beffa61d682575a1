"""The customer domain's errors, each with its stable code and HTTP status."""

from drivenow_contracts import ErrorCode
from drivenow_contracts.server.errors import DomainError


class CustomerNotFound(DomainError):
    code, http_status, default_detail = ErrorCode.CUSTOMER_NOT_FOUND, 404, "No customer with this id."


class CustomerExists(DomainError):
    code, http_status, default_detail = ErrorCode.CUSTOMER_EXISTS, 409, "An active customer already has this email."


class CustomerInactive(DomainError):
    code, http_status, default_detail = ErrorCode.CUSTOMER_INACTIVE, 409, "The customer is deactivated."
