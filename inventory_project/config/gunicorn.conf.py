"""Gunicorn for the inventory service, on port 3131: `gunicorn -c config/gunicorn.conf.py config.wsgi`.

Every knob can be set from the environment (GUNICORN_*). Metrics of all workers are merged through files in
PROMETHEUS_MULTIPROC_DIR (prometheus_client multiprocess mode), made here when not given.
"""

import os
import shutil
import tempfile

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:3131")
proc_name = "inventory"
# A few processes with threads keep the CPU busy while requests wait on PostgreSQL.
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# gthread, answering the requests gunicorn refuses itself (before Django) with problem+json, not HTML.
worker_class = "drivenow_contracts.server.gunicorn_worker.ProblemThreadWorker"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# How long a stopping worker may finish its requests before it is killed (the local runner makes it short).
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = 5
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = 100
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None  # empty: no access log
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
# Gunicorn's runtime control socket lives at one path per user (~/.gunicorn): several servers started by the
# same user (two instances per service, tests) would fight over it, and nothing here uses it.
control_socket_disable = True
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'

# The server's bounds on waiting in PostgreSQL (config/settings/base.py reads them): a row lock kept by another
# transaction for 5 s, or a statement running 20 s, ends in a 503 the client may retry — before this file's
# `timeout` kills the worker and the client gets nothing.
os.environ.setdefault("INVENTORY_DB_LOCK_TIMEOUT_MS", "5000")
os.environ.setdefault("INVENTORY_DB_STATEMENT_TIMEOUT_MS", "20000")

if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="drivenow-metrics-")


def on_starting(server):  # type: ignore[no-untyped-def]
    path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, exist_ok=True)


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):  # type: ignore[no-untyped-def]
    """Load every view now, then move everything loaded so far out of the garbage collector's sight (gc.freeze).

    Django, DRF and the app make tens of thousands of long-lived objects that every full collection walked again,
    pausing whichever request was running (README, "Performance", has the figures). Frozen objects are never
    collected; they live as long as the worker anyway.
    """
    import gc

    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 — imports the URLconf, every view, serializer and filter
    gc.collect()
    gc.freeze()
