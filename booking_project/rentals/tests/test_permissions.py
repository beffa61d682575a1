"""Who may do what, in one table: every endpoint and method of both services × five callers.

Callers: `anon` (no credentials), `staff` (a staff account's token, no superuser), `service` (the booking
service's token — inventory's service account; booking has no such account, so it is a wrong token there),
`plain` (an authenticated account that is not staff), `admin` (a superuser). The admin rows use a session (the
Django admin does not take tokens); the API rows use tokens. Inventory runs as a real server; booking is called
in-process, reserving through that inventory. Every cell is asserted; writes that succeed use a fresh resource.

Also here: tokens never reach the logs of either service, the service account cannot log in to the admin, and
CSRF is enforced on session-authenticated writes.
"""
from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from customers.tests.factories import CustomerFactory
from drivenow_servicekit.testing import LiveService, live_service
from rentals.models import Rental, RentalStatus
from rentals.tests.support import LiveInventory, drop_database

ROLES = ("anon", "staff", "service", "plain", "admin")
C = "{car}"  # a fresh car in inventory for this cell
R = "{reservation}"  # a fresh active reservation in inventory
K = "{customer}"  # a fresh active customer in booking
N = "{rental}"  # a fresh active rental in booking

# service, method, path, body → expected status for anon, staff, service, plain, admin
MATRIX: list[tuple[str, str, str, object, tuple[int, int, int, int, int]]] = [
    # inventory: the fleet is public to read, staff write it
    ("inventory", "GET", "/api/v1/cars/", None, (200, 200, 200, 200, 200)),
    ("inventory", "POST", "/api/v1/cars/", {"model": "Matrix", "year": 2024}, (401, 201, 403, 403, 201)),
    ("inventory", "GET", f"/api/v1/cars/{C}/", None, (200, 200, 200, 200, 200)),
    ("inventory", "PATCH", f"/api/v1/cars/{C}/", {"model": "Renamed"}, (401, 200, 403, 403, 200)),
    ("inventory", "DELETE", f"/api/v1/cars/{C}/", None, (401, 204, 403, 403, 204)),
    ("inventory", "PUT", f"/api/v1/cars/{C}/", {"model": "X", "year": 2024}, (401, 405, 403, 403, 405)),
    ("inventory", "DELETE", "/api/v1/cars/", None, (401, 405, 403, 403, 405)),
    # inventory: reservations are the booking service's (a superuser holds every permission)
    ("inventory", "GET", "/api/v1/reservations/", None, (401, 403, 200, 403, 200)),
    ("inventory", "POST", "/api/v1/reservations/", {"id": "{new}", "car_id": C}, (401, 403, 201, 403, 201)),
    ("inventory", "GET", f"/api/v1/reservations/{R}/", None, (401, 403, 200, 403, 200)),
    ("inventory", "POST", f"/api/v1/reservations/{R}/release/", None, (401, 403, 200, 403, 200)),
    ("inventory", "DELETE", f"/api/v1/reservations/{R}/", None, (401, 403, 405, 403, 405)),
    # inventory: operations endpoints are public; the admin needs a staff session
    ("inventory", "GET", "/health/ready", None, (200, 200, 200, 200, 200)),
    ("inventory", "GET", "/schema", None, (200, 200, 200, 200, 200)),
    ("inventory", "GET", "/admin/", None, (302, 200, 302, 302, 200)),
    ("inventory", "GET", "/admin/fleet/car/", None, (302, 403, 302, 302, 200)),
    # booking: staff only, everywhere
    ("booking", "GET", "/api/v1/customers/", None, (401, 200, 401, 403, 200)),
    ("booking", "POST", "/api/v1/customers/", {"name": "Matrix", "email": "{email}"}, (401, 201, 401, 403, 201)),
    ("booking", "GET", f"/api/v1/customers/{K}/", None, (401, 200, 401, 403, 200)),
    ("booking", "PATCH", f"/api/v1/customers/{K}/", {"phone": "+1 202 555 0100"}, (401, 200, 401, 403, 200)),
    ("booking", "POST", f"/api/v1/customers/{K}/deactivate/", None, (401, 200, 401, 403, 200)),
    ("booking", "PUT", f"/api/v1/customers/{K}/", {"name": "X", "email": "{email}"}, (401, 405, 401, 403, 405)),
    ("booking", "DELETE", f"/api/v1/customers/{K}/", None, (401, 405, 401, 403, 405)),
    ("booking", "GET", "/api/v1/rentals/", None, (401, 200, 401, 403, 200)),
    ("booking", "POST", "/api/v1/rentals/", {"car_id": C, "customer_id": K}, (401, 201, 401, 403, 201)),
    ("booking", "GET", f"/api/v1/rentals/{N}/", None, (401, 200, 401, 403, 200)),
    ("booking", "POST", f"/api/v1/rentals/{N}/end/", {}, (401, 200, 401, 403, 200)),
    ("booking", "PATCH", f"/api/v1/rentals/{N}/", {"status": "failed"}, (401, 405, 401, 403, 405)),
    ("booking", "GET", "/health/ready", None, (200, 200, 200, 200, 200)),
    ("booking", "GET", "/schema", None, (200, 200, 401, 200, 200)),  # a wrong token is refused even here
    ("booking", "GET", "/admin/", None, (302, 200, 302, 302, 200)),
    ("booking", "GET", "/admin/rentals/rental/", None, (302, 403, 302, 302, 200)),
]

_SHELL_USERS = """
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
for name, staff, superuser in (("matrix-staff", True, False), ("matrix-plain", False, False),
                               ("matrix-admin", True, True)):
    user, _ = User.objects.get_or_create(username=name, defaults={"is_staff": staff, "is_superuser": superuser})
    user.set_password("pw-" + name + "-0123")
    user.save()
    print(name, Token.objects.get_or_create(user=user)[0].key)
"""


@pytest.fixture(scope="module")
def inventory_tokens(live_inventory: LiveInventory) -> dict[str, str]:
    out = live_inventory.service.manage("shell", "-c", _SHELL_USERS)
    made = dict(line.split() for line in out.strip().splitlines() if line.startswith("matrix-"))
    return {"staff": made["matrix-staff"], "plain": made["matrix-plain"], "admin": made["matrix-admin"],
            "service": live_inventory.service_token}


def _inventory_session(base: str, username: str | None) -> requests.Session:
    """A browser session on inventory's admin, logged in as `username` (None: not logged in)."""
    session = requests.Session()
    if username is None:
        return session
    page = session.get(f"{base}/admin/login/", timeout=10)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    session.post(f"{base}/admin/login/?next=/admin/", timeout=10, allow_redirects=False,
                 data={"username": username, "password": f"pw-{username}-0123", "csrfmiddlewaretoken": csrf},
                 headers={"Referer": f"{base}/admin/login/"})
    return session


@pytest.mark.django_db(transaction=True)
def test_the_permission_matrix_of_both_services(inventory, inventory_tokens, capsys):
    booking_users = {
        "staff": User.objects.create_user("desk", is_staff=True),
        "plain": User.objects.create_user("nobody"),
        "admin": User.objects.create_superuser("boss", password="pw-boss-0123456"),
    }
    booking_tokens = {role: Token.objects.create(user=user).key for role, user in booking_users.items()}
    booking_tokens["service"] = inventory_tokens["service"]  # inventory's token means nothing to booking
    inventory_users = {"staff": "matrix-staff", "plain": "matrix-plain", "admin": "matrix-admin", "service": None}

    def fresh(path: str, body: object) -> tuple[str, object]:
        values: dict[str, str] = {"{new}": str(uuid.uuid4()), "{email}": f"m-{uuid.uuid4().hex[:10]}@example.com"}
        text = path + repr(body)
        if C in text:
            values[C] = str(inventory.make_car())
        if R in text:
            reservation_id = uuid.uuid4()
            inventory.client().reserve(reservation_id=reservation_id, car_id=inventory.make_car())
            values[R] = str(reservation_id)
        if K in text:
            values[K] = str(CustomerFactory().id)
        if N in text:
            values[N] = str(Rental.objects.create(car_id=uuid.uuid4(), customer=CustomerFactory(),
                                                  status=RentalStatus.ACTIVE, started_at=timezone.now()).id)

        def fill(value: object) -> object:
            if isinstance(value, str):
                for key, replacement in values.items():
                    value = value.replace(key, replacement)
                return value
            if isinstance(value, dict):
                return {k: fill(v) for k, v in value.items()}
            return value

        return str(fill(path)), fill(body)

    def call(service: str, role: str, method: str, path: str, body: object) -> int:
        admin_page = path.startswith("/admin/")
        if service == "inventory":
            if admin_page:
                session = _inventory_session(inventory.url, None if role == "anon" else inventory_users[role])
                return session.get(inventory.url + path, timeout=10, allow_redirects=False).status_code
            headers = {} if role == "anon" else {"Authorization": f"Token {inventory_tokens[role]}"}
            return requests.request(method, inventory.url + path, json=body, headers=headers, timeout=20).status_code
        if admin_page:
            browser = Client()
            if role in booking_users:
                browser.force_login(booking_users[role])
            return browser.get(path).status_code
        client = APIClient()
        if role != "anon":
            client.credentials(HTTP_AUTHORIZATION=f"Token {booking_tokens[role]}")
        return client.generic(method, path, b"" if body is None else json.dumps(body),
                              content_type="application/json").status_code

    mismatches = []
    for service, method, path, body, expected in MATRIX:
        for role, want in zip(ROLES, expected):
            real_path, real_body = fresh(path, body)
            got = call(service, role, method, real_path, real_body)
            if got != want:
                mismatches.append(f"{service} {method} {path} as {role}: {got}, want {want}")
    with capsys.disabled():
        print(f"\n[figures] permission matrix: {len(MATRIX)} endpoint×method rows × {len(ROLES)} callers "
              f"= {len(MATRIX) * len(ROLES)} cells")
    assert mismatches == []


# -- the service account and the admin ------------------------------------------------------------------------
def test_the_service_account_cannot_log_in_to_the_inventory_admin(live_inventory):
    session = _inventory_session(live_inventory.url, "booking-service")  # it has no usable password
    assert session.get(f"{live_inventory.url}/admin/", allow_redirects=False, timeout=10).status_code == 302
    headers = {"Authorization": f"Token {live_inventory.service_token}"}
    assert requests.get(f"{live_inventory.url}/admin/", headers=headers, allow_redirects=False,
                        timeout=10).status_code == 302  # a token is no admin session


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
    accepted = browser.post("/api/v1/customers/", {"name": "Ada", "email": "ada@example.com"}, format="json",
                            HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value)
    assert accepted.status_code == 201, accepted.json()


@pytest.mark.django_db
def test_token_authenticated_writes_need_no_csrf_token(staff_user, inventory_down):
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=staff_user).key}")
    assert client.post("/api/v1/customers/", {"name": "Ada", "email": "ada@example.com"},
                       format="json").status_code == 201


# -- tokens never reach the logs -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def logged_stack(tmp_path_factory, metrics_dir) -> Iterator[tuple[LiveService, LiveService, Path, dict[str, str]]]:
    """Inventory and booking under gunicorn with access logs and DEBUG logging, writing to files we read."""
    log_dir = tmp_path_factory.mktemp("token-logs")
    verbose = {"GUNICORN_ACCESSLOG": "-", "GUNICORN_LOGLEVEL": "debug", "DJANGO_LOG_LEVEL": "DEBUG",
               "PROMETHEUS_MULTIPROC_DIR": metrics_dir}
    names = (f"logs_inventory_{os.getpid()}", f"logs_booking_{os.getpid()}")
    try:
        with live_service("inventory", db_name=names[0], env=verbose, log_dir=log_dir) as inventory:
            service_token = inventory.manage("create_service_account").strip()
            staff_token = inventory.manage("seed_demo").strip()
            env = {**verbose, "BOOKING_INVENTORY_URL": inventory.url, "BOOKING_INVENTORY_TOKEN": service_token}
            with live_service("booking", db_name=names[1], env=env, log_dir=log_dir) as booking:
                booking.manage("seed_demo", "--token", staff_token)  # the same token on both: one secret to look for
                yield inventory, booking, log_dir, {"service": service_token, "staff": staff_token}
    finally:
        for name in names:
            drop_database(name)


def test_tokens_never_appear_in_the_logs(logged_stack):
    inventory, booking, log_dir, tokens = logged_stack
    wrong = "feedfacefeedfacefeedfacefeedfacefeedface"
    staff = {"Authorization": f"Token {tokens['staff']}"}
    car = requests.post(f"{inventory.url}/api/v1/cars/", json={"model": "Log", "year": 2024}, headers=staff,
                        timeout=10).json()["id"]
    customer = requests.get(f"{booking.url}/api/v1/customers/", headers=staff, timeout=10).json()["results"][0]["id"]
    started = requests.post(f"{booking.url}/api/v1/rentals/", json={"car_id": car, "customer_id": customer},
                            headers={**staff, "Idempotency-Key": "log-check"}, timeout=20)
    assert started.status_code == 201, started.text  # booking called inventory with the service token
    assert requests.post(f"{booking.url}/api/v1/rentals/{started.json()['id']}/end/", json={}, headers=staff,
                         timeout=10).status_code == 200
    requests.get(f"{inventory.url}/api/v1/cars/", headers={"Authorization": f"Token {wrong}"}, timeout=10)
    requests.get(f"{booking.url}/api/v1/rentals/", headers={"Authorization": f"Token {wrong}"}, timeout=10)
    requests.post(f"{booking.url}/api/v1/customers/", data="{bad json", headers={**staff, "Content-Type":
                  "application/json"}, timeout=10)
    requests.get(f"{booking.url}/api/v1/rentals/", headers={"Authorization": "Token"}, timeout=10)
    # gunicorn writes access lines after the answer; stop both so everything is flushed
    booking.stop_all()
    inventory.stop_all()
    logs = {path.name: path.read_text(errors="replace") for path in log_dir.glob("*.log")}
    text = "\n".join(logs.values())
    assert " 201 " in text and "rid=" in text, list(logs)  # the access logs are there and were written
    for secret in (tokens["staff"], tokens["service"], wrong):
        assert secret not in text, [name for name, body in logs.items() if secret in body]
