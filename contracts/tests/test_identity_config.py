"""DJANGO_AUTH_METHODS and the JWT / OIDC variables, as drivenow_contracts.server.identity reads them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from drivenow_contracts.server import identity
from drivenow_contracts.testing.keys import rsa_pem_pair

TOKEN = "drivenow_contracts.server.auth.CachedTokenAuthentication"
SESSION = "rest_framework.authentication.SessionAuthentication"
PRIVATE, PUBLIC = rsa_pem_pair()


def test_default_is_v1_token_then_session() -> None:
    config = identity.from_env({}, issues_tokens=True, database_users=True)
    assert config.methods == ("token", "session")
    assert config.authentication_classes == [TOKEN, SESSION]
    assert config.simple_jwt == {} and config.oidc == {}


def test_jwt_and_oidc_share_one_bearer_class_in_the_order_given() -> None:
    env = {
        "DJANGO_AUTH_METHODS": " JWT, token ,oidc,jwt",
        "DJANGO_JWT_PUBLIC_KEY": PUBLIC,
        "DJANGO_OIDC_ISSUER": "https://sso.example/realms/drivenow",
        "DJANGO_OIDC_AUDIENCE": "drivenow-api",
    }
    config = identity.from_env(env, issues_tokens=False, database_users=False)
    assert config.methods == ("jwt", "token", "oidc")
    assert config.authentication_classes == [identity.BEARER_CLASS, TOKEN]
    assert config.enabled("oidc") and not config.enabled("session")


def test_unknown_or_no_method_is_refused() -> None:
    with pytest.raises(identity.IdentityConfigError, match="unknown kerberos"):
        identity.parse_methods("token,kerberos")
    with pytest.raises(identity.IdentityConfigError, match="names no method"):
        identity.parse_methods(" , ")


def test_jwt_settings_rs256_with_lifetimes_from_the_environment() -> None:
    env = {
        "DJANGO_AUTH_METHODS": "jwt",
        "DJANGO_JWT_PRIVATE_KEY": PRIVATE.replace("\n", "\\n"),  # one-line form, as an .env file holds it
        "DJANGO_JWT_PUBLIC_KEY": PUBLIC,
        "DJANGO_JWT_ACCESS_SECONDS": "120",
        "DJANGO_JWT_ISSUER": "drivenow-booking",
    }
    jwt = identity.from_env(env, issues_tokens=True, database_users=True).simple_jwt
    assert jwt["ALGORITHM"] == "RS256"
    assert jwt["SIGNING_KEY"] == PRIVATE and jwt["VERIFYING_KEY"] == PUBLIC
    assert jwt["ACCESS_TOKEN_LIFETIME"] == timedelta(seconds=120)
    assert jwt["REFRESH_TOKEN_LIFETIME"] == timedelta(days=1)
    assert jwt["ISSUER"] == "drivenow-booking" and jwt["AUDIENCE"] == "drivenow"
    assert jwt["ROTATE_REFRESH_TOKENS"] and jwt["BLACKLIST_AFTER_ROTATION"]


def test_a_verifying_service_never_holds_the_private_key(tmp_path: Path) -> None:
    key_file = tmp_path / "jwt.pub"
    key_file.write_text(PUBLIC)
    env = {"DJANGO_AUTH_METHODS": "jwt", "DJANGO_JWT_PUBLIC_KEY_FILE": str(key_file), "DJANGO_JWT_PRIVATE_KEY": PRIVATE}
    jwt = identity.from_env(env, issues_tokens=False, database_users=False).simple_jwt
    assert jwt["VERIFYING_KEY"] == PUBLIC
    assert PRIVATE not in jwt.values()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DJANGO_JWT_PRIVATE_KEY": PRIVATE}, "DJANGO_JWT_PUBLIC_KEY"),
        ({"DJANGO_JWT_PUBLIC_KEY": PUBLIC}, "DJANGO_JWT_PRIVATE_KEY"),
        (
            {"DJANGO_JWT_PUBLIC_KEY": PUBLIC, "DJANGO_JWT_PRIVATE_KEY": PRIVATE, "DJANGO_JWT_ALGORITHM": "HS256"},
            "HS256",
        ),
        ({"DJANGO_JWT_PUBLIC_KEY": PUBLIC, "DJANGO_JWT_PRIVATE_KEY": PRIVATE, "DJANGO_JWT_ALGORITHM": "none"}, "NONE"),
        ({"DJANGO_JWT_PUBLIC_KEY_FILE": "/nonexistent/jwt.pub"}, "jwt.pub"),
        (
            {"DJANGO_JWT_PUBLIC_KEY": PUBLIC, "DJANGO_JWT_PRIVATE_KEY": PRIVATE, "DJANGO_JWT_ACCESS_SECONDS": "5m"},
            "whole number",
        ),
    ],
)
def test_jwt_without_what_it_needs_is_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(identity.IdentityConfigError, match=message):
        identity.from_env({"DJANGO_AUTH_METHODS": "token,jwt", **env}, issues_tokens=True, database_users=True)


def test_oidc_settings_with_a_role_map() -> None:
    env = {
        "DJANGO_AUTH_METHODS": "oidc",
        "DJANGO_OIDC_ISSUER": "https://sso.example/realms/drivenow",
        "DJANGO_OIDC_AUDIENCE": "drivenow-api",
        "DJANGO_OIDC_ROLES_CLAIM": "realm_access.roles",
        "DJANGO_OIDC_ROLE_MAP": "fleet=fleet_staff, desk=front_desk",
    }
    oidc = identity.from_env(env, issues_tokens=False, database_users=False).oidc
    assert oidc["ROLES_CLAIM"] == "realm_access.roles"
    assert oidc["ROLE_MAP"] == {"fleet": "fleet_staff", "desk": "front_desk"}
    assert oidc["ALGORITHMS"] == ["RS256"] and oidc["JWKS_URL"] is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DJANGO_OIDC_ISSUER": "https://sso.example"}, "DJANGO_OIDC_AUDIENCE"),
        (
            {"DJANGO_OIDC_ISSUER": "https://sso.example", "DJANGO_OIDC_AUDIENCE": "a", "DJANGO_OIDC_ROLE_MAP": "x"},
            "'x'",
        ),
        (
            {
                "DJANGO_OIDC_ISSUER": "https://sso.example",
                "DJANGO_OIDC_AUDIENCE": "a",
                "DJANGO_OIDC_ALGORITHMS": "HS256",
            },
            "HS256",
        ),
    ],
)
def test_oidc_without_what_it_needs_is_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(identity.IdentityConfigError, match=message):
        identity.from_env({"DJANGO_AUTH_METHODS": "oidc", **env}, issues_tokens=False, database_users=False)
