"""Liveness (the process answers) and readiness (the database answers) for probes and load balancers."""
from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse


def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def ready(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "ok"
    except Exception as exc:  # any failure to talk to the database means: not ready
        database = f"unavailable: {exc.__class__.__name__}"
    ok = database == "ok"
    body = {"status": "ok" if ok else "unavailable", "checks": {"database": database}}
    return JsonResponse(body, status=200 if ok else 503)
