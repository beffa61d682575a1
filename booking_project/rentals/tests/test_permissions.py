"""Booking's side of who may do what: tokens never reach the logs of either service, the service account cannot
log in to the admin, and CSRF is enforced on session-authenticated writes. (The permission matrix of both
services is a system test: deploy/tests/test_permissions.py.)
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.conf import settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from drivenow_contracts.testing import LiveService, live_service
from rentals.tests.support import drop_database


def _inventory_session(base: str, username: str | None) -> requests.Session:
    """A browser session on inventory's admin, logged in as `username` (None: not logged in)."""
    session = requests.Session()
    if username is None:
        return session
    page = session.get(f"{base}/admin/login/", timeout=10)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    session.post(
        f"{base}/admin/login/?next=/admin/",
        timeout=10,
        allow_redirects=False,
        data={"username": username, "password": f"pw-{username}-0123", "csrfmiddlewaretoken": csrf},
        headers={"Referer": f"{base}/admin/login/"},
    )
    return session


# -- the service account and the admin ------------------------------------------------------------------------
def test_the_service_account_cannot_log_in_to_the_inventory_admin(live_inventory):
    session = _inventory_session(live_inventory.url, "booking-service")  # it has no usable password
    assert session.get(f"{live_inventory.url}/admin/", allow_redirects=False, timeout=10).status_code == 302
    headers = {"Authorization": f"Token {live_inventory.service_token}"}
    assert (
        requests.get(f"{live_inventory.url}/admin/", headers=headers, allow_redirects=False, timeout=10).status_code
        == 302
    )  # a token is no admin session


# -- CSRF on session-authenticated writes ----------------------------------------------------------------------
@pytest.mark.django_db
def test_session_authenticated_writes_need_the_csrf_token(staff_user, inventory_down):
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(staff_user)
    refused = browser.post("/api/v1/customers/", {"name": "Ada", "email": "ada@example.com"}, format="json")
    assert refused.status_code == 403
    assert refused["Content-Type"] == "application/problem+json"
    assert refused.json()["code"] == "permission_denied" and "CSRF" in refused.json()["detail"]
    assert browser.get("/api/v1/customers/").status_code == 200  # reads need no token
    assert browser.get("/api/v1/customers/", HTTP_ACCEPT="text/html").status_code == 200  # sets the CSRF cookie
    accepted = browser.post(
        "/api/v1/customers/",
        {"name": "Ada", "email": "ada@example.com"},
        format="json",
        HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value,
    )
    assert accepted.status_code == 201, accepted.json()


@pytest.mark.django_db
def test_token_authenticated_writes_need_no_csrf_token(staff_user, inventory_down):
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=staff_user).key}")
    assert (
        client.post("/api/v1/customers/", {"name": "Ada", "email": "ada@example.com"}, format="json").status_code == 201
    )


# -- tokens never reach the logs -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def logged_stack(tmp_path_factory, metrics_dir) -> Iterator[tuple[LiveService, LiveService, Path, dict[str, str]]]:
    """Inventory and booking under gunicorn with access logs and DEBUG logging, writing to files we read."""
    log_dir = tmp_path_factory.mktemp("token-logs")
    verbose = {
        "GUNICORN_ACCESSLOG": "-",
        "GUNICORN_LOGLEVEL": "debug",
        "DJANGO_LOG_LEVEL": "DEBUG",
        "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
    }
    names = (f"logs_inventory_{os.getpid()}", f"logs_booking_{os.getpid()}")
    try:
        with live_service(
            settings.BASE_DIR.parent / "inventory_project",
            db_prefix="INVENTORY",
            db_name=names[0],
            env=verbose,
            log_dir=log_dir,
        ) as inventory:
            service_token = inventory.manage("create_service_account").strip()
            staff_token = inventory.manage("seed_demo").strip()
            env = {**verbose, "BOOKING_INVENTORY_URL": inventory.url, "BOOKING_INVENTORY_TOKEN": service_token}
            with live_service(
                settings.BASE_DIR, db_prefix="BOOKING", db_name=names[1], env=env, log_dir=log_dir
            ) as booking:
                booking.manage("seed_demo", "--token", staff_token)  # the same token on both: one secret to look for
                yield inventory, booking, log_dir, {"service": service_token, "staff": staff_token}
    finally:
        for name in names:
            drop_database(name)


def test_tokens_never_appear_in_the_logs(logged_stack):
    inventory, booking, log_dir, tokens = logged_stack
    wrong = "feedfacefeedfacefeedfacefeedfacefeedface"
    staff = {"Authorization": f"Token {tokens['staff']}"}
    car = requests.post(
        f"{inventory.url}/api/v1/cars/", json={"model": "Log", "year": 2024}, headers=staff, timeout=10
    ).json()["id"]
    customer = requests.get(f"{booking.url}/api/v1/customers/", headers=staff, timeout=10).json()["results"][0]["id"]
    started = requests.post(
        f"{booking.url}/api/v1/rentals/",
        json={"car_id": car, "customer_id": customer},
        headers={**staff, "Idempotency-Key": "log-check"},
        timeout=20,
    )
    assert started.status_code == 201, started.text  # booking called inventory with the service token
    assert (
        requests.post(
            f"{booking.url}/api/v1/rentals/{started.json()['id']}/end/", json={}, headers=staff, timeout=10
        ).status_code
        == 200
    )
    requests.get(f"{inventory.url}/api/v1/cars/", headers={"Authorization": f"Token {wrong}"}, timeout=10)
    requests.get(f"{booking.url}/api/v1/rentals/", headers={"Authorization": f"Token {wrong}"}, timeout=10)
    requests.post(
        f"{booking.url}/api/v1/customers/",
        data="{bad json",
        headers={**staff, "Content-Type": "application/json"},
        timeout=10,
    )
    requests.get(f"{booking.url}/api/v1/rentals/", headers={"Authorization": "Token"}, timeout=10)
    # gunicorn writes access lines after the answer; stop both so everything is flushed
    booking.stop_all()
    inventory.stop_all()
    logs = {path.name: path.read_text(errors="replace") for path in log_dir.glob("*.log")}
    text = "\n".join(logs.values())
    assert " 201 " in text and "rid=" in text, list(logs)  # the access logs are there and were written
    for secret in (tokens["staff"], tokens["service"], wrong):
        assert secret not in text, [name for name, body in logs.items() if secret in body]
