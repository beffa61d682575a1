"""Liveness (the process answers) and readiness (the database answers) for probes and load balancers.

settings.DRIVENOW_READY_REPORTS maps extra names to dotted callables returning a short status string."""
from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils.module_loading import import_string


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
    checks = {"database": database}
    # Dependencies reported but not fatal (booking stays ready while inventory is down: the outbox covers it).
    for name, path in getattr(settings, "DRIVENOW_READY_REPORTS", {}).items():
        checks[name] = import_string(path)()
    body = {"status": "ok" if ok else "unavailable", "checks": checks}
    return JsonResponse(body, status=200 if ok else 503)
