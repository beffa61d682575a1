"""The OpenAPI document says what the services really answer, so contract fuzzing (schemathesis) can hold them to it.

drf-spectacular documents what each view declares. Every DriveNow endpoint can also answer a few things no view
declares — a bad token (401), a refused account (403), an unacceptable `Accept` (406), a body that is too large,
not JSON or not parseable (413, 415, 400), a request line or headers over gunicorn's limits (414, 431), throttling
(429) and a lost database (503) — and every error is
`application/problem+json`, not `application/json`. `document_problems` (a POSTPROCESSING_HOOK) adds those answers
to every operation and gives every 4xx/5xx the problem+json media type and the `Problem` schema. `AutoSchema` marks
an operation whose permissions let anonymous callers through (the public fleet reads) as needing no credentials.
`blank_strings_any_of` keeps a blank-allowed string's schema true (see there).
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

from django.contrib.auth.models import AnonymousUser
from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiSerializerExtension, OpenApiSerializerFieldExtension

from .fields import PLAIN_TEXT_DESCRIPTION, PLAIN_TEXT_FORMAT

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; `code` is a stable snake_case string (drivenow_contracts.ErrorCode).",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string", "example": "urn:drivenow:problem:car_not_found"},
        "title": {"type": "string", "example": "Not Found"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "code": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$", "example": "car_not_found"},
        "instance": {"type": "string", "description": "The path the problem occurred on."},
        "errors": {
            "type": "object",
            "description": "For `invalid`: field path → messages.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
}

_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    }
}

# status → (when it is added, description). "always": every operation; "body": operations with a request body;
# "query": operations with query parameters or a body; "path": operations with path parameters;
# "private": operations that need credentials.
STANDARD_ANSWERS: dict[str, tuple[str, str]] = {
    "400": ("query", "`invalid` (with `errors` per field) or `parse_error` (the body is not JSON)."),
    "401": ("always", "`not_authenticated` (no credentials) or `authentication_failed` (a wrong token)."),
    "403": ("private", "`permission_denied`: this account may not do this (or the CSRF check failed)."),
    "404": ("path", "`not_found` or the resource's own `…_not_found`."),
    "406": ("always", "`not_acceptable`: no representation matches the `Accept` header."),
    "413": ("body", "`request_too_large`: the body is over 1 MiB."),
    "414": ("always", "`bad_request`: the request line (path and query) is over 4 KiB; the server refuses it unread."),
    "415": ("body", "`unsupported_media_type`: send `application/json`."),
    "429": ("always", "`throttled`: too many requests; `Retry-After` says when to come back."),
    "431": ("always", "`bad_request`: a header, or all of them together, is over the server's limit."),
    "503": (
        "always",
        "`database_unavailable` (the database is unreachable or took too long) or `concurrent_update` (PostgreSQL "
        "rolled this request back for another on the same row; nothing was written); retry after `Retry-After`.",
    ),
}


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema, plus: an operation that anonymous callers may use lists `{}` among its
    security requirements, whatever permission class grants that (drf-spectacular only knows AllowAny and
    IsAuthenticatedOrReadOnly)."""

    def get_auth(self) -> list[dict[str, Any]]:
        auths = super().get_auth()
        if {} not in auths and self._anonymous_allowed():
            auths.append({})
        return auths

    def _anonymous_allowed(self) -> bool:
        request = SimpleNamespace(method=self.method, user=AnonymousUser(), auth=None)
        try:
            return all(
                permission.has_permission(request, self.view)  # type: ignore[arg-type]  # enough of a Request
                for permission in self.view.get_permissions()
            )
        except Exception:  # a permission that needs more of the request than this: assume credentials are needed
            return False


class PlainTextFieldExtension(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]
    """`PlainTextField` is a string of `format: plain-text` (what clean_text accepts, in words)."""

    target_class = "drivenow_contracts.server.fields.PlainTextField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        schema["format"] = PLAIN_TEXT_FORMAT
        schema["description"] = " ".join(filter(None, [schema.get("description"), PLAIN_TEXT_DESCRIPTION]))
        return schema


class RefusedFieldsExtension(OpenApiSerializerExtension):  # type: ignore[no-untyped-call]
    """A request body with `RefusedFieldsMixin` lists each refused field as a property that nothing matches
    (`not: {}`, OpenAPI 3.0's `false`): documented as refused, and never generated by contract fuzzing as valid."""

    target_class = "drivenow_contracts.server.fields.RefusedFieldsMixin"
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_basic_serializer(self.target, direction)
        if direction == "request":
            properties = schema.setdefault("properties", {})
            for name in sorted(self.target.refused_fields):
                properties[name] = {"not": {}, "description": "Set by the service; sending it is a 400 `invalid`."}
        return schema


def _problem_response(description: str, status: str) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}}}
    if status in ("429", "503"):
        response["headers"] = dict(_RETRY_AFTER)
    return response


def document_problems(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """POSTPROCESSING_HOOK: every 4xx/5xx is problem+json, and every operation lists the standard answers."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for path, operations in result.get("paths", {}).items():
        has_path_params = bool(re.search(r"{[^}]+}", path))
        for method, operation in operations.items():
            if method not in {"get", "put", "post", "patch", "delete", "head", "options", "trace"}:
                continue
            has_body = "requestBody" in operation
            has_query = any(p.get("in") == "query" for p in operation.get("parameters", []))
            private = {} not in operation.get("security", [{}])
            applies = {
                "always": True,
                "body": has_body,
                "query": has_query or has_body,
                "path": has_path_params,
                "private": private,
            }
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and not parameter.get("required"):
                    # Every optional query parameter: an empty value is the same as leaving it out (the browsable
                    # API's filter form sends them all). A required one must have a value.
                    parameter["allowEmptyValue"] = True
            responses = operation.setdefault("responses", {})
            for status, response in responses.items():
                if status[:1] in ("4", "5"):
                    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}}
                    if status in ("429", "503"):
                        response.setdefault("headers", {}).update(_RETRY_AFTER)
            for status, (when, description) in STANDARD_ANSWERS.items():
                if applies[when] and status not in responses:
                    responses[status] = _problem_response(description, status)
            operation["responses"] = dict(sorted(responses.items()))
    return result


_BLANK_STRING = {"type": "string", "maxLength": 0}


def _any_of_blank(schema: Any) -> Any:
    if isinstance(schema, dict):
        branches = schema.get("oneOf")
        if isinstance(branches, list) and _BLANK_STRING in branches:
            schema = {("anyOf" if key == "oneOf" else key): value for key, value in schema.items()}
        return {key: _any_of_blank(value) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_any_of_blank(item) for item in schema]
    return schema


def blank_strings_any_of(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """POSTPROCESSING_HOOK: drf-spectacular writes a blank-allowed string (`allow_blank=True`) as
    `oneOf: [{the field's schema}, {maxLength: 0}]`. When the field's own pattern also matches "" (a plate may be
    blank), "" matches both branches, so `oneOf` — exactly one — calls the blank value the API accepts invalid, and
    contract fuzzing rightly reports every accepted "" as a schema-violating request. `anyOf` says what is meant."""
    converted: dict[str, Any] = _any_of_blank(result)
    return converted
