"""Throttling, admin login lockout, production security headers: the shared guards (config.security)
as the inventory service applies them. Booking runs the same code (rentals/tests/test_security.py checks its
settings)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.cache import caches
from django.test import Client

from fleet.models import Reservation
from fleet.tests.factories import CarFactory

PROJECT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(settings):
    """rates(anon=…, user=…, service=…): turn throttling on for this test, with empty counters."""
    caches["throttle"].clear()

    def set_rates(**rates: str | None) -> None:
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"anon": None, "user": None, "service": None, **rates},
        }

    yield set_rates
    caches["throttle"].clear()


def _assert_throttled(response) -> None:
    assert response.status_code == 429, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "throttled" and response.json()["status"] == 429
    assert 0 < int(response["Retry-After"]) <= 60


# -- API throttling --------------------------------------------------------------------------------------------
def test_anonymous_callers_are_throttled_per_address(rates, anon):
    rates(anon="3/min")
    assert [anon.get("/api/v1/cars/").status_code for _ in range(3)] == [200, 200, 200]
    _assert_throttled(anon.get("/api/v1/cars/"))
    # Another address behind the gateway (X-Forwarded-For, last entry) has its own allowance.
    assert anon.get("/api/v1/cars/", HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 200
    # ...and entries a caller puts in front of the gateway's do not make new ones: these count for 198.51.100.7.
    forged = [anon.get("/api/v1/cars/", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}, 198.51.100.7") for n in range(3)]
    assert [answer.status_code for answer in forged[:2]] == [200, 200]
    _assert_throttled(forged[2])


def test_authenticated_accounts_are_throttled_per_account(rates, staff, plain_user_client):
    rates(user="2/min", anon="1/min")
    assert [staff.get("/api/v1/cars/").status_code for _ in range(2)] == [200, 200]
    _assert_throttled(staff.get("/api/v1/cars/"))
    _assert_throttled(staff.post("/api/v1/cars/", {"model": "X", "year": 2020}, format="json"))
    assert plain_user_client.get("/api/v1/cars/").status_code == 200  # another account, its own count


def test_the_booking_service_account_is_not_throttled_as_a_person(rates, service):
    rates(user="2/min", anon="1/min")  # service: off, the default
    cars = [CarFactory() for _ in range(5)]
    for car in cars:
        created = service.post("/api/v1/reservations/", {"id": str(uuid.uuid4()), "car_id": str(car.id)}, format="json")
        assert created.status_code == 201
    assert Reservation.objects.count() == 5


def test_a_service_rate_applies_to_service_accounts_only_when_set(rates, service, staff):
    rates(service="2/min", user="100/min")
    answers = [service.get(f"/api/v1/reservations/{uuid.uuid4()}/").status_code for _ in range(3)]
    assert answers[:2] == [404, 404] and answers[2] == 429
    assert staff.get("/api/v1/cars/").status_code == 200


def test_throttle_rates_come_from_the_environment():
    code = (
        "from django.conf import settings; r = settings.REST_FRAMEWORK; "
        "print(r['DEFAULT_THROTTLE_RATES'], r['NUM_PROXIES'], settings.CACHES['throttle']['BACKEND'])"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_THROTTLE_ANON": "7/s",
        "DJANGO_THROTTLE_USER": "off",
        "DJANGO_THROTTLE_SERVICE": "9000/min",
        "DJANGO_NUM_PROXIES": "2",
    }
    out = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == (
        "{'anon': '7/s', 'user': None, 'service': '9000/min'} 2 django.core.cache.backends.locmem.LocMemCache"
    )
    defaults = {k: v for k, v in env.items() if not k.startswith("DJANGO_THROTTLE") and k != "DJANGO_NUM_PROXIES"}
    out = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=PROJECT,
        env=defaults,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.startswith("{'anon': '60/min', 'user': '600/min', 'service': None} 1"), out.stdout + out.stderr
    bad = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "DJANGO_THROTTLE_USER": "lots"},
    )
    assert bad.returncode != 0 and "DJANGO_THROTTLE_USER" in bad.stderr


# -- admin login lockout ---------------------------------------------------------------------------------------
def _login(client: Client, username: str, password: str, address: str = "192.0.2.10"):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password}, REMOTE_ADDR=address)


def test_admin_login_locks_a_username_out_from_one_address_after_five_failures(staff_user):
    browser = Client()
    for _ in range(4):
        assert _login(browser, "fleet-staff", "wrong").status_code == 200  # the form again, with its error
    locked = _login(browser, "fleet-staff", "wrong")
    assert locked.status_code == 429 and locked["Content-Type"] == "application/problem+json"
    assert locked.json()["code"] == "throttled" and int(locked["Retry-After"]) == 15 * 60
    # Now even the right password is refused from there...
    assert _login(browser, "fleet-staff", "pw-fleet-staff-1").status_code == 429
    # ...but not from elsewhere, and not for another username: nobody can lock a colleague out from afar.
    assert _login(Client(), "fleet-staff", "pw-fleet-staff-1", address="192.0.2.99").status_code == 302


@pytest.mark.parametrize("forwarded", ["nonsense", "999.1.1.1", "198.51.100.7\x00", "198.51.100.7, <script>"])
def test_a_failed_login_with_a_forwarded_for_that_is_no_address_is_counted_for_the_peer(staff_user, forwarded):
    from axes.models import AccessAttempt

    client = Client(raise_request_exception=False)
    response = client.post(
        "/admin/login/", {"username": "fleet-staff", "password": "wrong"}, HTTP_X_FORWARDED_FOR=forwarded
    )
    assert response.status_code == 200  # the login page again, not a crash storing the "address"
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == ["127.0.0.1"]


def test_a_successful_login_resets_the_count(staff_user):
    browser = Client()
    for _ in range(4):
        _login(browser, "fleet-staff", "wrong")
    assert _login(browser, "fleet-staff", "pw-fleet-staff-1").status_code == 302
    browser.logout()
    for _ in range(4):
        assert _login(browser, "fleet-staff", "wrong").status_code == 200


# -- production headers ----------------------------------------------------------------------------------------
PRODUCTION_PROBE = """
import django; django.setup()
from django.test import Client
c = Client(HTTP_HOST="localhost")
for path in ("/health/live", "/docs"):
    r = c.get(path, secure=True)
    print(path, r.status_code, {k: r[k] for k in ("Strict-Transport-Security", "X-Content-Type-Options",
          "Referrer-Policy", "X-Frame-Options", "Cross-Origin-Opener-Policy", "Content-Security-Policy") if k in r})
r = c.get("/health/live")
print("plain-http", r.status_code)
r = c.get("/api/v1/cars/")
print("redirect", r.status_code, r.get("Location"))
"""


def test_production_settings_send_the_security_headers():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "k" * 20 + "-production-secret-for-the-check-only-0123456789",
    }
    out = subprocess.run(
        [sys.executable, "-c", PRODUCTION_PROBE], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    lines = {line.split(" ", 1)[0]: line for line in out.stdout.splitlines()}
    api = lines["/health/live"]
    for expected in (
        "'Strict-Transport-Security': 'max-age=31536000; includeSubDomains; preload'",
        "'X-Content-Type-Options': 'nosniff'",
        "'Referrer-Policy': 'same-origin'",
        "'X-Frame-Options': 'DENY'",
        "'Cross-Origin-Opener-Policy': 'same-origin'",
        "'Content-Security-Policy': \"default-src 'none'; frame-ancestors 'none'",
    ):
        assert expected in api, api
    assert "default-src 'self'" in lines["/docs"] and "frame-ancestors 'none'" in lines["/docs"]
    assert lines["plain-http"].endswith("200")  # probes talk plain HTTP inside the cluster
    assert lines["redirect"] == "redirect 301 https://localhost/api/v1/cars/"
