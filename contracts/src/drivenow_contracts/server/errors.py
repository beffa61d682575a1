"""Every error leaves the service as RFC 9457 problem+json with a stable `code` from drivenow_contracts."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from drivenow_contracts import ErrorCode

log = logging.getLogger(__name__)
PROBLEM_CONTENT_TYPE = "application/problem+json"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _encodable(text: str) -> str:
    """A message may quote what the client sent, and JSON lets a client send a lone surrogate ("\\ud800"), which no
    UTF-8 encoder takes: rendering the problem would crash. It is shown as U+FFFD, as a decoder shows bad bytes."""
    return _LONE_SURROGATE.sub("\ufffd", text)


class DomainError(Exception):
    """Base of a service's domain errors: services raise them, the handler renders them."""

    code: ErrorCode = ErrorCode.INVALID
    http_status: int = 400
    default_detail = "The request cannot be carried out."

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.default_detail
        super().__init__(self.detail)

    def extra_members(self) -> dict[str, Any]:
        """Members of the problem beyond the standard ones (a declined payment's `decline_code`)."""
        return {}


def problem(
    status: int, code: str, detail: str, *, errors: dict[str, list[str]] | None = None, instance: str | None = None
) -> dict[str, Any]:
    code = str(code)  # a plain str: an ErrorCode (StrEnum) would crash the YAML renderer of /schema
    body: dict[str, Any] = {
        "type": f"urn:drivenow:problem:{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": _encodable(str(detail)),
        "code": code,
    }
    if instance:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = {_encodable(name): [_encodable(m) for m in messages] for name, messages in errors.items()}
    return body


def _field_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Flatten DRF's nested error structure into field path → messages."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = "non_field_errors" if key == "non_field_errors" and not prefix else f"{prefix}{key}"
            for sub_key, messages in _field_errors(value, f"{name}.").items():
                out.setdefault(sub_key, []).extend(messages)
    elif isinstance(detail, list) and detail and all(not isinstance(d, (dict, list)) for d in detail):
        out[prefix.rstrip(".") or "non_field_errors"] = [str(d) for d in detail]
    elif isinstance(detail, list):
        for index, value in enumerate(detail):
            for sub_key, messages in _field_errors(value, f"{prefix}{index}.").items():
                out.setdefault(sub_key, []).extend(messages)
    else:
        out[prefix.rstrip(".") or "non_field_errors"] = [str(detail)]
    return out


_DRF_CODES: dict[type[exceptions.APIException], ErrorCode] = {
    exceptions.ParseError: ErrorCode.PARSE_ERROR,
    exceptions.NotAuthenticated: ErrorCode.NOT_AUTHENTICATED,
    exceptions.AuthenticationFailed: ErrorCode.AUTHENTICATION_FAILED,
    exceptions.PermissionDenied: ErrorCode.PERMISSION_DENIED,
    exceptions.NotFound: ErrorCode.NOT_FOUND,
    exceptions.MethodNotAllowed: ErrorCode.METHOD_NOT_ALLOWED,
    exceptions.NotAcceptable: ErrorCode.NOT_ACCEPTABLE,
    exceptions.UnsupportedMediaType: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    exceptions.Throttled: ErrorCode.THROTTLED,
    exceptions.ValidationError: ErrorCode.INVALID,
}


def _render(response: Response, context: dict[str, Any]) -> Response:
    """problem+json, whatever the view renders (the schema view's YAML included); the browsable API's HTML pages
    keep showing errors as pages."""
    request = context.get("request")
    renderer = getattr(request, "accepted_renderer", None)
    if renderer is not None and getattr(renderer, "format", "json") not in ("json", "api"):
        request.accepted_renderer = JSONRenderer()  # type: ignore[union-attr]
        request.accepted_media_type = PROBLEM_CONTENT_TYPE  # type: ignore[union-attr]
        renderer = request.accepted_renderer  # type: ignore[union-attr]
    if renderer is None or getattr(renderer, "format", "json") == "json":
        response.content_type = PROBLEM_CONTENT_TYPE
    return response


# deadlock_detected, serialization_failure, lock_not_available (lock_timeout: another transaction kept a row this
# one needed for longer than the server waits): the transaction was rolled back whole; the same request may succeed.
_RETRYABLE_SQLSTATES = frozenset({"40P01", "40001", "55P03"})
# query_canceled: statement_timeout ended a statement that ran too long (or an operator cancelled it).
_STATEMENT_TIMEOUT = "57014"


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF EXCEPTION_HANDLER: domain errors, DRF errors, Django errors and database outages as problem+json."""
    request = context.get("request")
    instance = request.path if request is not None else None

    if isinstance(exc, DomainError):
        body = problem(exc.http_status, exc.code, exc.detail, instance=instance)
        body.update({name: _encodable(str(value)) for name, value in exc.extra_members().items() if name not in body})
        return _render(Response(body, status=exc.http_status), context)
    if isinstance(exc, OperationalError) and getattr(exc.__cause__, "sqlstate", None) in _RETRYABLE_SQLSTATES:
        # Two requests on one row at once, and PostgreSQL chose this one to give way: nothing was written.
        log.warning("transaction rolled back by PostgreSQL (%s); answered 503", exc.__cause__.sqlstate)  # type: ignore[union-attr]
        body = problem(503, ErrorCode.CONCURRENT_UPDATE, "Another request changed the same data; try again.")
        return _render(Response(body, status=503, headers={"Retry-After": "1"}), context)
    if isinstance(exc, OperationalError) and getattr(exc.__cause__, "sqlstate", None) == _STATEMENT_TIMEOUT:
        log.error("a statement was cancelled (statement_timeout); answered 503")
        body = problem(503, ErrorCode.DATABASE_UNAVAILABLE, "The database took too long to answer; try again shortly.")
        return _render(Response(body, status=503, headers={"Retry-After": "5"}), context)
    if isinstance(exc, (OperationalError, InterfaceError)):
        log.error("database unavailable: %s", exc.__class__.__name__)
        body = problem(503, ErrorCode.DATABASE_UNAVAILABLE, "The database is unavailable; try again shortly.")
        return _render(Response(body, status=503, headers={"Retry-After": "5"}), context)
    if isinstance(exc, RequestDataTooBig):
        body = problem(413, ErrorCode.REQUEST_TOO_LARGE, "The request body is too large.", instance=instance)
        return _render(Response(body, status=413), context)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    code = next((c for t, c in _DRF_CODES.items() if isinstance(exc, t)), ErrorCode.INVALID)
    if isinstance(exc, exceptions.ValidationError):
        errors = _field_errors(exc.detail)
        body = problem(400, code, "The request is invalid; see `errors`.", errors=errors, instance=instance)
    else:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        body = problem(response.status_code, code, str(detail), instance=instance)
    response.data = body
    return _render(response, context)


def problem_response(request: HttpRequest, status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse(
        problem(status, code, detail, instance=request.path), status=status, content_type=PROBLEM_CONTENT_TYPE
    )


# Django-level handlers for what never reaches a DRF view (unknown URLs, oversized bodies, crashes).
def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if isinstance(exception, RequestDataTooBig):
        return problem_response(request, 413, ErrorCode.REQUEST_TOO_LARGE, "The request body is too large.")
    return problem_response(request, 400, ErrorCode.INVALID, "Bad request.")


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return problem_response(request, 403, ErrorCode.PERMISSION_DENIED, "You do not have permission to do this.")


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return problem_response(request, 404, ErrorCode.NOT_FOUND, "No such resource.")


def handler500(request: HttpRequest) -> HttpResponse:
    return problem_response(request, 500, ErrorCode.INTERNAL_ERROR, "Internal error; it has been logged.")


class DatabaseUnavailableMiddleware:
    """Outside DRF views (admin, health), a lost database is a 503 problem, not an HTML 500 page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, (OperationalError, InterfaceError)):
            log.error("database unavailable: %s", exception.__class__.__name__)
            response = problem_response(
                request, 503, ErrorCode.DATABASE_UNAVAILABLE, "The database is unavailable; try again shortly."
            )
            response["Retry-After"] = "5"
            return response
        return None


class ProblemSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Schema of a problem+json body (for the OpenAPI document)."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField()
    instance = serializers.CharField(required=False)
    errors = serializers.DictField(  # type: ignore[assignment]  # a field named like Serializer.errors, on purpose
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


def problem_docs(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ProblemSerializer, description=description)
