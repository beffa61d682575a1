"""Liveness (the process answers) and readiness (the database answers) for probes and load balancers.

settings.DRIVENOW_READY_REPORTS maps extra names to dotted callables returning a short status string. Their
answers are kept for DRIVENOW_READY_REPORTS_CACHE_SECONDS per process: the probe is public and unthrottled, so
it must not turn every hit into a call to another service."""

from __future__ import annotations

import threading
import time

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils.module_loading import import_string

_reports: dict[str, tuple[float, str]] = {}  # dotted path -> (monotonic time it was asked, its answer)
_reports_lock = threading.Lock()


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
        checks[name] = ready_report(path)
    body = {"status": "ok" if ok else "unavailable", "checks": checks}
    return JsonResponse(body, status=200 if ok else 503)


def ready_report(path: str) -> str:
    """The answer of the report callable at `path`, asked at most once per cache window in this process.

    Concurrent hits while it is being asked wait for that one answer instead of asking again."""
    window = float(getattr(settings, "DRIVENOW_READY_REPORTS_CACHE_SECONDS", 5.0))
    cached = _reports.get(path)
    if cached is not None and time.monotonic() - cached[0] < window:
        return cached[1]
    with _reports_lock:
        cached = _reports.get(path)
        if cached is not None and time.monotonic() - cached[0] < window:
            return cached[1]
        answer: str = import_string(path)()
        _reports[path] = (time.monotonic(), answer)
        return answer


def forget_ready_reports() -> None:
    """Drop the kept answers, so the next probe asks again (after the dependency moved, e.g. in tests)."""
    with _reports_lock:
        _reports.clear()
