"""The contract in a service's settings: which classes make its API answer as the contract says.

A service spreads these into its own settings and adds what is its own (authentication, permissions, throttles,
title and description):

    REST_FRAMEWORK = {**conventions.REST_FRAMEWORK, "DEFAULT_PERMISSION_CLASSES": [...], ...}
    SPECTACULAR_SETTINGS = {**conventions.SPECTACULAR_SETTINGS, "TITLE": "...", ...}

Dotted paths only: settings are read before any app is loaded.
"""

from __future__ import annotations

from typing import Any

REST_FRAMEWORK: dict[str, Any] = {
    # JSON only: form bodies follow HTML-form rules the schema cannot describe ("" means "not sent", every value a
    # string) and are what a cross-site form can post. The browsable API posts raw JSON.
    "DEFAULT_PARSER_CLASSES": ["drivenow_contracts.server.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    # Lists are pages of `limit` (20 by default) from `offset`, in a stable order.
    "DEFAULT_PAGINATION_CLASS": "drivenow_contracts.server.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "drivenow_contracts.server.filters.StableOrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drivenow_contracts.server.openapi.AutoSchema",
    # Every error is RFC 9457 problem+json with a stable `code`.
    "EXCEPTION_HANDLER": "drivenow_contracts.server.errors.problem_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS: dict[str, Any] = {
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Docs assets served from the sidecar package (no CDN).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Every 4xx/5xx documented as problem+json, with the answers any endpoint can give (401, 406, 429, 503, …).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "drivenow_contracts.server.openapi.document_problems",
        "drivenow_contracts.server.openapi.blank_strings_any_of",
    ],
}
