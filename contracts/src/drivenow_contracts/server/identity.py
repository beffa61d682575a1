"""Identity by configuration: what `DJANGO_AUTH_METHODS` and the `DJANGO_JWT_*` / `DJANGO_OIDC_*` variables make of
a service's authentication. Read by each service's settings, before any app is loaded (dotted paths only).

Methods (comma-separated, in the order they are tried; default `token,session`):
- `token`: `Authorization: Token <key>` (DRF's tokens in the service's own database; the typed client's scheme).
- `session`: the Django session cookie (the admin, the browsable API).
- `jwt`: `Authorization: Bearer <access>` issued by booking (`/api/v1/auth/token/`, djangorestframework-simplejwt),
  RS256 by default: booking signs with `DJANGO_JWT_PRIVATE_KEY`, every service verifies with `DJANGO_JWT_PUBLIC_KEY`
  (PEM text, or a file named by `…_FILE`). Booking looks the user up in its database; a service with no such user
  table (inventory) trusts the token's claims — its `roles`, mapped to the groups of the same names there.
- `oidc`: `Authorization: Bearer <access>` from an external OpenID Connect provider (`DJANGO_OIDC_ISSUER`, its JWKS
  at `DJANGO_OIDC_JWKS_URL`, `DJANGO_OIDC_AUDIENCE`), the claim `DJANGO_OIDC_ROLES_CLAIM` giving the roles.

`jwt` and `oidc` share the Bearer scheme: one class (bearer.BearerAuthentication) reads a token's issuer and hands it
to the verifier of that issuer; a token from any other issuer is refused (401), never ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

METHODS = ("token", "session", "jwt", "oidc")
DEFAULT_METHODS = "token,session"
# Asymmetric only: a service that verifies must never be able to sign (inventory holds the public key alone).
ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512")

_CLASSES = {
    "token": "drivenow_contracts.server.auth.CachedTokenAuthentication",
    "session": "rest_framework.authentication.SessionAuthentication",
}
BEARER_CLASS = "drivenow_contracts.server.bearer.BearerAuthentication"


class IdentityConfigError(ValueError):
    """The environment asks for an identity set-up that cannot work (named in the message)."""


@dataclass(frozen=True)
class Identity:
    """What the settings need: the methods, DRF's authentication classes, simplejwt's and the OIDC verifier's
    settings (empty when that method is off)."""

    methods: tuple[str, ...]
    authentication_classes: list[str]
    simple_jwt: dict[str, Any] = field(default_factory=dict)
    oidc: dict[str, Any] = field(default_factory=dict)
    # A JWT names a user of this service's database (booking), or carries roles to be trusted (inventory).
    database_users: bool = False

    def enabled(self, method: str) -> bool:
        return method in self.methods


def _get(environ: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    value = environ.get(name)
    return default if value is None or value.strip() == "" else value.strip()


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    value = _get(environ, name)
    if value is None:
        return default
    if not value.isdigit():
        raise IdentityConfigError(f"{name} is a whole number of seconds, not {value!r}")
    return int(value)


def _pem(environ: Mapping[str, str], name: str) -> str | None:
    """A PEM key from `NAME` (the text; `\\n` may stand for the line breaks) or from the file `NAME_FILE`."""
    text = environ.get(name, "")
    path = _get(environ, f"{name}_FILE")
    if not text.strip() and path:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise IdentityConfigError(f"{name}_FILE={path}: {exc.strerror}") from exc
    text = text.replace("\\n", "\n").strip()
    return f"{text}\n" if text else None


def parse_methods(value: str | None) -> tuple[str, ...]:
    methods = tuple(
        dict.fromkeys(part.strip().lower() for part in (value or DEFAULT_METHODS).split(",") if part.strip())
    )
    unknown = [method for method in methods if method not in METHODS]
    if unknown:
        raise IdentityConfigError(f"DJANGO_AUTH_METHODS: unknown {', '.join(unknown)} (known: {', '.join(METHODS)})")
    if not methods:
        raise IdentityConfigError("DJANGO_AUTH_METHODS names no method")
    return methods


def from_env(environ: Mapping[str, str], *, issues_tokens: bool, database_users: bool) -> Identity:
    """The identity set-up the environment describes. `issues_tokens`: this service signs JWTs (booking);
    `database_users`: a JWT names a user of this service's database (booking) rather than carrying its roles
    as claims to be trusted (inventory)."""
    methods = parse_methods(environ.get("DJANGO_AUTH_METHODS"))
    classes: list[str] = []
    for method in methods:
        if method in _CLASSES:
            classes.append(_CLASSES[method])
        elif BEARER_CLASS not in classes:
            classes.append(BEARER_CLASS)
    simple_jwt = (
        _simple_jwt(environ, issues_tokens=issues_tokens, database_users=database_users) if "jwt" in methods else {}
    )
    oidc = _oidc(environ) if "oidc" in methods else {}
    return Identity(
        methods=methods,
        authentication_classes=classes,
        simple_jwt=simple_jwt,
        oidc=oidc,
        database_users=database_users,
    )


def _simple_jwt(environ: Mapping[str, str], *, issues_tokens: bool, database_users: bool) -> dict[str, Any]:
    algorithm = (_get(environ, "DJANGO_JWT_ALGORITHM", "RS256") or "RS256").upper()
    if algorithm not in ALGORITHMS:
        raise IdentityConfigError(
            f"DJANGO_JWT_ALGORITHM={algorithm}: one of {', '.join(ALGORITHMS)} (a shared secret would let every "
            "service that verifies also sign)"
        )
    public_key = _pem(environ, "DJANGO_JWT_PUBLIC_KEY")
    private_key = _pem(environ, "DJANGO_JWT_PRIVATE_KEY") if issues_tokens else None
    if public_key is None:
        raise IdentityConfigError(
            "DJANGO_AUTH_METHODS has jwt: set DJANGO_JWT_PUBLIC_KEY (or DJANGO_JWT_PUBLIC_KEY_FILE)"
        )
    if issues_tokens and private_key is None:
        raise IdentityConfigError(
            "DJANGO_AUTH_METHODS has jwt: this service issues the tokens; set DJANGO_JWT_PRIVATE_KEY (or _FILE)"
        )
    settings: dict[str, Any] = {
        "ALGORITHM": algorithm,
        # simplejwt needs a signing key even where it only verifies; the public key signs nothing in RS/ES/PS.
        "SIGNING_KEY": private_key or public_key,
        "VERIFYING_KEY": public_key,
        "ISSUER": _get(environ, "DJANGO_JWT_ISSUER", "drivenow"),
        "AUDIENCE": _get(environ, "DJANGO_JWT_AUDIENCE", "drivenow"),
        "LEEWAY": timedelta(seconds=_int(environ, "DJANGO_JWT_LEEWAY_SECONDS", 30)),
        "ACCESS_TOKEN_LIFETIME": timedelta(seconds=_int(environ, "DJANGO_JWT_ACCESS_SECONDS", 300)),
        "REFRESH_TOKEN_LIFETIME": timedelta(seconds=_int(environ, "DJANGO_JWT_REFRESH_SECONDS", 86400)),
        # A refresh token is good once: refreshing returns a new one and revokes the old (the blacklist), as logout
        # does.
        "ROTATE_REFRESH_TOKENS": True,
        "BLACKLIST_AFTER_ROTATION": True,
        "UPDATE_LAST_LOGIN": True,
        "AUTH_HEADER_TYPES": ("Bearer",),
        "USER_ID_CLAIM": "user_id",
        "TOKEN_USER_CLASS": "drivenow_contracts.server.bearer.ClaimsUser",
        "CHECK_REVOKE_TOKEN": database_users,  # a changed password revokes the tokens where the user is known
    }
    return settings


def _oidc(environ: Mapping[str, str]) -> dict[str, Any]:
    issuer = _get(environ, "DJANGO_OIDC_ISSUER")
    audience = _get(environ, "DJANGO_OIDC_AUDIENCE")
    if not issuer or not audience:
        raise IdentityConfigError("DJANGO_AUTH_METHODS has oidc: set DJANGO_OIDC_ISSUER and DJANGO_OIDC_AUDIENCE")
    role_map: dict[str, str] = {}
    for pair in (_get(environ, "DJANGO_OIDC_ROLE_MAP", "") or "").split(","):
        if pair.strip():
            provider_role, _, role = pair.partition("=")
            if not role.strip():
                raise IdentityConfigError(f"DJANGO_OIDC_ROLE_MAP: '{pair}' is not <provider role>=<DriveNow role>")
            role_map[provider_role.strip()] = role.strip()
    algorithms = [a.strip().upper() for a in (_get(environ, "DJANGO_OIDC_ALGORITHMS", "RS256") or "").split(",")]
    bad = [a for a in algorithms if a not in ALGORITHMS]
    if bad:
        raise IdentityConfigError(f"DJANGO_OIDC_ALGORITHMS: {', '.join(bad)} not allowed ({', '.join(ALGORITHMS)})")
    return {
        "ISSUER": issuer,
        "AUDIENCE": audience,
        "JWKS_URL": _get(environ, "DJANGO_OIDC_JWKS_URL"),  # None: from the issuer's discovery document
        "ROLES_CLAIM": _get(environ, "DJANGO_OIDC_ROLES_CLAIM", "roles"),  # dotted: realm_access.roles (Keycloak)
        "ROLE_MAP": role_map,
        "USERNAME_CLAIM": _get(environ, "DJANGO_OIDC_USERNAME_CLAIM", "preferred_username"),
        "ALGORITHMS": algorithms,
        "LEEWAY": _int(environ, "DJANGO_OIDC_LEEWAY_SECONDS", 30),
        "JWKS_CACHE_SECONDS": _int(environ, "DJANGO_OIDC_JWKS_CACHE_SECONDS", 300),
        "TIMEOUT": _int(environ, "DJANGO_OIDC_TIMEOUT_SECONDS", 5),
    }
