"""Who may do what, in one table: every endpoint and method of both services × five callers, over HTTP.

A system test: both services run under gunicorn, booking reserving through the live inventory. Callers: `anon`
(no credentials), `staff` (a staff account's token, no superuser), `service` (the booking service's token —
inventory's service account; booking has no such account, so it is a wrong token there), `plain` (an
authenticated account that is not staff), `admin` (a superuser). The admin rows use a logged-in browser session
(the Django admin does not take tokens); the API rows use tokens. Every cell is asserted; writes that succeed
use a fresh resource.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from drivenow_contracts.testing import LiveService, live_service
from stack import HAS_BOOKING, NO_BOOKING_REASON, REPO_ROOT

pytestmark = [pytest.mark.live, pytest.mark.skipif(not HAS_BOOKING, reason=NO_BOOKING_REASON)]

ROLES = ("anon", "staff", "service", "plain", "admin")
C = "{car}"  # a fresh car in inventory for this cell
R = "{reservation}"  # a fresh active reservation in inventory
K = "{customer}"  # a fresh active customer in booking
N = "{rental}"  # a fresh active rental in booking
P = "{rate_plan}"  # a fresh rate plan in booking (of a class of its own)
PLAN = {
    "vehicle_class": "{code}",
    "currency": "EUR",
    "hour": 100,
    "day": 600,
    "week": 3000,
    "valid_from": "2031-01-01T00:00:00Z",
}
QUOTE = {
    "vehicle_class": "{plan_class}",
    "pickup_location": "TLV-AIR",
    "pickup_at": "2031-03-07T09:00:00Z",
    "return_at": "2031-03-09T09:00:00Z",
}

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
    ("inventory", "POST", f"/api/v1/reservations/{R}/pick-up/", {}, (401, 403, 200, 403, 200)),
    (
        "inventory",
        "POST",
        f"/api/v1/reservations/{R}/extend/",
        {"ends_at": "2031-03-08T09:00:00Z"},
        (401, 403, 200, 403, 200),
    ),
    ("inventory", "POST", f"/api/v1/reservations/{R}/reassign/", {}, (401, 403, 409, 403, 409)),  # picked up: stays
    # inventory: blocks and the schedule are staff's
    (
        "inventory",
        "POST",
        f"/api/v1/cars/{C}/blocks/",
        {"starts_at": "2031-03-07T09:00:00Z", "ends_at": "2031-03-08T09:00:00Z", "reason": "Matrix"},
        (401, 201, 403, 403, 201),
    ),
    ("inventory", "DELETE", f"/api/v1/cars/{C}/blocks/{{new}}/", None, (401, 404, 403, 403, 404)),
    (
        "inventory",
        "GET",
        f"/api/v1/cars/{C}/schedule/?from=2031-03-01T00:00:00Z&until=2031-03-15T00:00:00Z",
        None,
        (401, 200, 403, 403, 200),
    ),
    # inventory: branches and vehicle classes, public to read, staff write them
    ("inventory", "GET", "/api/v1/locations/", None, (200, 200, 200, 200, 200)),
    (
        "inventory",
        "POST",
        "/api/v1/locations/",
        {"code": "{code}", "name": "Matrix", "time_zone": "UTC"},
        (401, 201, 403, 403, 201),
    ),
    ("inventory", "GET", "/api/v1/vehicle-classes/", None, (200, 200, 200, 200, 200)),
    (
        "inventory",
        "POST",
        "/api/v1/vehicle-classes/",
        {"code": "{code}", "name": "Matrix", "seats": 5, "transmission": "manual"},
        (401, 201, 403, 403, 201),
    ),
    ("inventory", "DELETE", "/api/v1/locations/", None, (401, 405, 403, 403, 405)),
    (
        "inventory",
        "GET",
        "/api/v1/availability/?location=NOWHERE&pickup_at=2031-03-07T09:00:00Z&return_at=2031-03-08T09:00:00Z",
        None,
        (422, 422, 422, 422, 422),
    ),  # public: anyone gets the answer
    # inventory: operations endpoints are public; the admin needs a staff session
    ("inventory", "GET", "/health/ready", None, (200, 200, 200, 200, 200)),
    ("inventory", "GET", "/schema", None, (200, 200, 200, 200, 200)),
    ("inventory", "GET", "/admin/", None, (302, 200, 302, 302, 200)),
    ("inventory", "GET", "/admin/fleet/car/", None, (302, 403, 302, 302, 200)),
    # the planning board: whoever may view the car list (this staff account may not)
    ("inventory", "GET", "/admin/fleet/board/", None, (302, 403, 302, 302, 200)),
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
    # a walk-in is active: it cannot be picked up or cancelled (409 says the caller got that far)
    (
        "booking",
        "POST",
        f"/api/v1/rentals/{N}/pick-up/",
        {"odometer_km": 1, "fuel_eighths": 8},
        (401, 409, 401, 403, 409),
    ),
    ("booking", "POST", f"/api/v1/rentals/{N}/cancel/", None, (401, 409, 401, 403, 409)),
    (
        "booking",
        "POST",
        f"/api/v1/rentals/{N}/extend/",
        {"return_at": "2099-01-01T00:00:00Z"},
        (401, 200, 401, 403, 200),
    ),
    ("booking", "PATCH", f"/api/v1/rentals/{N}/", {"status": "failed"}, (401, 405, 401, 403, 405)),
    ("booking", "GET", f"/api/v1/rentals/{N}/charges/", None, (401, 200, 401, 403, 200)),
    (
        "booking",
        "POST",
        f"/api/v1/rentals/{N}/charges/",
        {"kind": "adjustment", "description": "Matrix", "amount": 100, "currency": "EUR"},
        (401, 201, 401, 403, 201),
    ),
    # booking: payments are staff's; a webhook answers to its signature only (no token is read there)
    ("booking", "GET", f"/api/v1/rentals/{N}/payments/", None, (401, 200, 401, 403, 200)),
    (
        "booking",
        "POST",
        f"/api/v1/rentals/{N}/payments/",
        {"purpose": "deposit", "amount": 5000, "currency": "EUR", "payment_method": "tok_visa"},
        (401, 201, 401, 403, 201),
    ),
    ("booking", "POST", "/api/v1/payments/webhooks/fake/", {}, (400, 400, 400, 400, 400)),
    # booking: prices — anyone reads plans and extras and asks for quotes, staff write plans and extras
    ("booking", "GET", "/api/v1/rate-plans/", None, (200, 200, 401, 200, 200)),
    ("booking", "POST", "/api/v1/rate-plans/", PLAN, (401, 201, 401, 403, 201)),
    ("booking", "GET", f"/api/v1/rate-plans/{P}/", None, (200, 200, 401, 200, 200)),
    ("booking", "PATCH", f"/api/v1/rate-plans/{P}/", {"day": 700}, (401, 200, 401, 403, 200)),
    ("booking", "DELETE", f"/api/v1/rate-plans/{P}/", None, (401, 405, 401, 403, 405)),
    ("booking", "GET", "/api/v1/extras/", None, (200, 200, 401, 200, 200)),
    (
        "booking",
        "POST",
        "/api/v1/extras/",
        {"code": "{code}", "name": "Matrix seat", "price": 500, "currency": "EUR", "per": "day"},
        (401, 201, 401, 403, 201),
    ),
    ("booking", "POST", "/api/v1/quotes/", QUOTE, (201, 201, 401, 201, 201)),
    ("booking", "GET", "/health/ready", None, (200, 200, 200, 200, 200)),
    ("booking", "GET", "/schema", None, (200, 200, 401, 200, 200)),  # a wrong token is refused even here
    ("booking", "GET", "/admin/", None, (302, 200, 302, 302, 200)),
    ("booking", "GET", "/admin/rentals/rental/", None, (302, 403, 302, 302, 200)),
    ("booking", "GET", "/admin/payments/payment/", None, (302, 403, 302, 302, 200)),
]

# Run in each service's `manage.py shell`: the three people of the matrix, with a password and a token each.
_MAKE_USERS = """
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
for name, staff, superuser in (("matrix-staff", True, False), ("matrix-plain", False, False),
                               ("matrix-admin", True, True)):
    user, _ = User.objects.get_or_create(username=name, defaults={"is_staff": staff, "is_superuser": superuser})
    user.set_password("pw-" + name + "-0123")
    user.save()
    print(name, Token.objects.get_or_create(user=user)[0].key)
"""
USERNAMES = {"staff": "matrix-staff", "plain": "matrix-plain", "admin": "matrix-admin"}


@dataclass
class Running:
    service: LiveService
    tokens: dict[str, str]  # role → token

    @property
    def url(self) -> str:
        return self.service.url

    def call(self, role: str, method: str, path: str, body: object = None) -> requests.Response:
        headers = {"Authorization": f"Token {self.tokens[role]}"} if role in self.tokens else {}
        return requests.request(method, self.url + path, json=body, headers=headers, timeout=20)

    def admin_session(self, role: str) -> requests.Session:
        """A browser on this service's admin, logged in as the role's person (anonymous for the others)."""
        session = requests.Session()
        if role not in USERNAMES:
            return session
        page = session.get(f"{self.url}/admin/login/", timeout=10)
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert csrf, page.text[:500]
        username = USERNAMES[role]
        logged_in = session.post(
            f"{self.url}/admin/login/?next=/admin/",
            timeout=10,
            allow_redirects=False,
            data={"username": username, "password": f"pw-{username}-0123", "csrfmiddlewaretoken": csrf.group(1)},
            headers={"Referer": f"{self.url}/admin/login/"},
        )
        # The admin lets staff in (a redirect); a person who is not staff gets the login form again.
        assert logged_in.status_code == (200 if role == "plain" else 302), logged_in.text[:500]
        return session


def _users(service: LiveService) -> dict[str, str]:
    made = dict(
        line.split() for line in service.manage("shell", "-c", _MAKE_USERS).splitlines() if line.startswith("matrix-")
    )
    return {role: made[username] for role, username in USERNAMES.items()}


@pytest.fixture(scope="module")
def services(tmp_path_factory) -> Iterator[tuple[Running, Running]]:
    log_dir = tmp_path_factory.mktemp("permissions")
    with live_service(
        REPO_ROOT / "inventory_project", db_prefix="INVENTORY", db_name="deploy_permissions_inventory", log_dir=log_dir
    ) as inventory_service:
        service_token = inventory_service.manage("create_service_account").strip()
        inventory = Running(inventory_service, {**_users(inventory_service), "service": service_token})
        env = {"BOOKING_INVENTORY_URL": inventory.url, "BOOKING_INVENTORY_TOKEN": service_token}
        with live_service(
            REPO_ROOT / "booking_project",
            db_prefix="BOOKING",
            db_name="deploy_permissions_booking",
            env=env,
            log_dir=log_dir,
        ) as booking_service:
            # Inventory's service token means nothing to booking: it is a wrong token there.
            booking = Running(booking_service, {**_users(booking_service), "service": service_token})
            yield inventory, booking


def test_the_permission_matrix_of_both_services(services, capsys):
    inventory, booking = services

    def new_car() -> str:
        created = inventory.call("staff", "POST", "/api/v1/cars/", {"model": "Matrix", "year": 2024})
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    def new_customer() -> str:
        body = {"name": "Matrix", "email": f"m-{uuid.uuid4().hex[:10]}@example.com"}
        created = booking.call("staff", "POST", "/api/v1/customers/", body)
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    def fill_codes(body: dict[str, object], values: dict[str, str]) -> dict[str, object]:
        return {k: values["{code}"] if v == "{code}" else v for k, v in body.items()}

    def fresh(path: str, body: object) -> tuple[str, object]:
        values: dict[str, str] = {
            "{new}": str(uuid.uuid4()),
            "{email}": f"m-{uuid.uuid4().hex[:10]}@example.com",
            "{code}": f"M{uuid.uuid4().hex[:10].upper()}",
        }
        text = path + repr(body)
        if C in text:
            values[C] = new_car()
        if R in text:
            values[R] = str(uuid.uuid4())
            held = inventory.call("service", "POST", "/api/v1/reservations/", {"id": values[R], "car_id": new_car()})
            assert held.status_code == 201, held.text
        if K in text:
            values[K] = new_customer()
        if P in text or "{plan_class}" in text:
            values["{plan_class}"] = values["{code}"]
            planned = booking.call("staff", "POST", "/api/v1/rate-plans/", fill_codes(PLAN, values))
            assert planned.status_code == 201, planned.text
            values[P] = str(planned.json()["id"])
        if N in text:
            started = booking.call(
                "staff", "POST", "/api/v1/rentals/", {"car_id": new_car(), "customer_id": new_customer()}
            )
            assert started.status_code == 201, started.text
            values[N] = str(started.json()["id"])

        def fill(value: object) -> object:
            if isinstance(value, str):
                for key, replacement in values.items():
                    value = value.replace(key, replacement)
                return value
            if isinstance(value, dict):
                return {k: fill(v) for k, v in value.items()}
            return value

        return str(fill(path)), fill(body)

    running = {"inventory": inventory, "booking": booking}
    mismatches = []
    for service, method, path, body, expected in MATRIX:
        for role, want in zip(ROLES, expected, strict=True):
            real_path, real_body = fresh(path, body)
            target = running[service]
            if path.startswith("/admin/"):
                got = target.admin_session(role).get(target.url + real_path, timeout=10, allow_redirects=False)
            else:
                got = target.call(role, method, real_path, real_body)
            if got.status_code != want:
                mismatches.append(f"{service} {method} {path} as {role}: {got.status_code}, want {want}")
    with capsys.disabled():
        print(
            f"\n[figures] permission matrix: {len(MATRIX)} endpoint×method rows × {len(ROLES)} callers "
            f"= {len(MATRIX) * len(ROLES)} cells"
        )
    assert mismatches == []
