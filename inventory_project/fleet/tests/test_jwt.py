"""DJANGO_AUTH_METHODS=jwt in inventory, over HTTP to gunicorn: inventory holds the public key only, trusts a
verified token's roles (the groups of the same names, made by migration 0010) and refuses every forged token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import jwt
import pytest
import requests
from django.conf import settings

from drivenow_contracts.testing import live_service
from drivenow_contracts.testing.keys import rsa_pem_pair

PRIVATE, PUBLIC = rsa_pem_pair()
OTHER_PRIVATE, _ = rsa_pem_pair()


@pytest.fixture(scope="module")
def inventory():
    env = {"DJANGO_AUTH_METHODS": "token,session,jwt", "DJANGO_JWT_PUBLIC_KEY": PUBLIC, "DJANGO_JWT_PRIVATE_KEY": ""}
    with live_service(settings.BASE_DIR, db_prefix="INVENTORY", db_name="inventory_jwt", env=env) as service:
        yield service


def claims(*roles: str, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "token_type": "access",
        "iss": "drivenow",
        "aud": "drivenow",
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        "user_id": 7,
        "username": "someone@example.com",
        "roles": list(roles),
        **extra,
    }


def token(payload: dict[str, Any], key: str = PRIVATE, algorithm: str = "RS256") -> str:
    return jwt.encode(payload, key, algorithm=algorithm)


def post_car(inventory, bearer: str) -> requests.Response:
    return requests.post(
        f"{inventory.url}/api/v1/cars/",
        json={"model": "JWT Car", "year": 2024},
        headers={"Authorization": f"Bearer {bearer}"},
        timeout=10,
    )


def test_fleet_staff_may_change_the_fleet_front_desk_may_not(inventory):
    made = post_car(inventory, token(claims("fleet_staff")))
    assert made.status_code == 201, made.text
    refused = post_car(inventory, token(claims("front_desk")))
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"


def test_the_booking_service_role_reserves_through_its_group(inventory):
    car = post_car(inventory, token(claims("admin"))).json()
    headers = {"Authorization": f"Bearer {token(claims('booking_service'))}"}
    held = requests.post(
        f"{inventory.url}/api/v1/reservations/",
        json={"id": str(uuid.uuid4()), "car_id": car["id"]},
        headers=headers,
        timeout=10,
    )
    assert held.status_code == 201, held.text
    customer = {"Authorization": f"Bearer {token(claims('customer'))}"}
    assert requests.get(f"{inventory.url}/api/v1/reservations/", headers=customer, timeout=10).status_code == 403


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _none_token(payload: dict[str, Any]) -> str:
    return f"{_b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{_b64(json.dumps(payload).encode())}."


def _hs256_with_public_key(payload: dict[str, Any]) -> str:
    """The algorithm-confusion forgery: HMAC with the (public) verifying key as the secret. PyJWT refuses to make
    it, so it is made by hand."""
    signed = f"{_b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}.{_b64(json.dumps(payload).encode())}"
    mac = hmac.new(PUBLIC.encode(), signed.encode(), hashlib.sha256).digest()
    return f"{signed}.{_b64(mac)}"


FORGED = {
    "expired": lambda: token(claims("admin", iat=int(time.time()) - 3600, exp=int(time.time()) - 600)),
    "another audience": lambda: token(claims("admin", aud="someone-else")),
    "another issuer": lambda: token(claims("admin", iss="https://evil.example")),
    "signed with another key": lambda: token(claims("admin"), key=OTHER_PRIVATE),
    "alg none": lambda: _none_token(claims("admin")),
    "re-signed HS256 with the public key": lambda: _hs256_with_public_key(claims("admin")),
    "a refresh token": lambda: token(claims("admin", token_type="refresh")),
    "no user id": lambda: token({k: v for k, v in claims("admin").items() if k != "user_id"}),
    "not a JWT": lambda: "not-a-token",
}


@pytest.mark.parametrize("case", sorted(FORGED))
def test_every_forged_or_stale_token_is_401_and_writes_nothing(inventory, case):
    before = requests.get(f"{inventory.url}/api/v1/cars/?limit=1", timeout=10).json()["count"]
    answer = post_car(inventory, FORGED[case]())
    assert answer.status_code == 401, (case, answer.status_code, answer.text)
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert answer.json()["code"] == "authentication_failed"
    assert answer.headers["WWW-Authenticate"].startswith("Token")
    assert requests.get(f"{inventory.url}/api/v1/cars/?limit=1", timeout=10).json()["count"] == before
