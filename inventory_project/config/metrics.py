"""`/metrics`: django-prometheus' request metrics plus the service's business collectors.

Under gunicorn with several workers, PROMETHEUS_MULTIPROC_DIR is set and the samples of all workers are merged.
"""

from __future__ import annotations

import contextlib
import os

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess


def register_business_collectors(registry: CollectorRegistry = REGISTRY) -> None:
    """Register the collectors named in settings.DRIVENOW_METRICS_COLLECTORS (dotted paths to instances)."""
    for path in getattr(settings, "DRIVENOW_METRICS_COLLECTORS", []):
        with contextlib.suppress(ValueError):  # already registered
            registry.register(import_string(path))


def metrics_view(request: HttpRequest) -> HttpResponse:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        register_business_collectors(registry)
    else:
        registry = REGISTRY
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
