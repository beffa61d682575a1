"""Booking's production settings and guards: `check --deploy` clean, secrets required, throttling and admin
login lockout on (the shared code is tested in depth by inventory's fleet/tests/test_security.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

PROJECT = Path(__file__).resolve().parents[2]
SECRET = "k" * 20 + "-production-secret-for-the-check-only-0123456789"
TOKEN = "productiontokenforthecheckonly0123456789"  # not "t" * 40: production refuses a token of one letter


def _production(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.production", **env},
    )


def test_production_check_deploy_is_clean():
    result = _production(
        {"DJANGO_SECRET_KEY": SECRET, "BOOKING_INVENTORY_TOKEN": TOKEN}, "check", "--deploy", "--fail-level", "WARNING"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DJANGO_SECRET_KEY": "", "BOOKING_INVENTORY_TOKEN": TOKEN}, "DJANGO_SECRET_KEY must be set"),
        ({"DJANGO_SECRET_KEY": SECRET, "BOOKING_INVENTORY_TOKEN": ""}, "BOOKING_INVENTORY_TOKEN must be set"),
        # the examples in deploy/k8s/secret.example.yaml and compose's old defaults: published, so refused
        (
            {
                "DJANGO_SECRET_KEY": "change-me-to-50-or-more-random-characters-111111111111",
                "BOOKING_INVENTORY_TOKEN": TOKEN,
            },
            "DJANGO_SECRET_KEY is an example value",
        ),
        (
            {"DJANGO_SECRET_KEY": SECRET, "BOOKING_INVENTORY_TOKEN": "changemeservicetoken000000000000000000"},
            "BOOKING_INVENTORY_TOKEN is an example value",
        ),
        (
            {"DJANGO_SECRET_KEY": SECRET, "BOOKING_INVENTORY_TOKEN": "demoservicetoken0000000000000000000000"},
            "BOOKING_INVENTORY_TOKEN is an example value",
        ),
        (
            {"DJANGO_SECRET_KEY": SECRET, "BOOKING_INVENTORY_TOKEN": TOKEN, "BOOKING_DB_PASSWORD": "drivenow-demo"},
            "BOOKING_DB_PASSWORD is an example value",
        ),
    ],
)
def test_production_refuses_to_start_without_its_secrets(env, message):
    result = _production(env, "check")
    assert result.returncode != 0 and message in result.stderr


def test_throttling_and_lockout_are_configured():
    classes = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"]
    assert classes == ["config.security.AnonRateThrottle", "config.security.UserRateThrottle"]
    # Booking has no service accounts calling it: no `service` scope (inventory has one, for booking's account).
    assert set(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]) == {"anon", "user"}
    assert settings.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesStandaloneBackend"


@pytest.mark.django_db
def test_booking_admin_login_is_locked_out_too(staff_user):
    browser = Client()
    answers = [
        browser.post("/admin/login/", {"username": "desk-staff", "password": "nope"}).status_code for _ in range(5)
    ]
    assert answers == [200, 200, 200, 200, 429]
    locked = browser.post("/admin/login/", {"username": "desk-staff", "password": "pw-desk-staff-1"})
    assert locked.status_code == 429 and locked.json()["code"] == "throttled"
