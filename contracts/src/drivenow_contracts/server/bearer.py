"""`Authorization: Bearer …`: JWTs booking issues (`jwt`) and access tokens of an OpenID Connect provider (`oidc`).

One DRF authentication class for the scheme (see identity.py): it reads the token's issuer without trusting it, and
hands the token to the verifier of that issuer — simplejwt for DriveNow's own, PyJWT's JWKS client for the
provider's. Whatever fails (a bad signature, `alg: none`, a token re-signed with the public key as an HMAC secret,
expired, for another audience or issuer, a refresh token used as an access token) is 401 `authentication_failed`.

A verified token becomes a user: booking's own user (its database), or a `ClaimsUser` — nobody's row, made of the
token's claims, whose permissions are those of the Django groups named by its roles in this service's database.
"""

from __future__ import annotations

import threading
from typing import Any

import jwt
from django.conf import settings
from django.utils.functional import cached_property
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication, JWTStatelessUserAuthentication
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.models import TokenUser

from drivenow_contracts.roles import Role

from .auth import _TTLCache

INVALID = "The bearer token is invalid or has expired."
_permissions_cache = _TTLCache(max_entries=256)
ROLE_PERMISSIONS_CACHE_SECONDS = 60.0


def role_permissions(roles: frozenset[str]) -> frozenset[str]:
    """`app_label.codename` of every permission the groups named `roles` hold here (cached for a minute)."""
    key = ",".join(sorted(roles))
    cached: frozenset[str] | None = _permissions_cache.get(key)
    if cached is not None:
        return cached
    from django.contrib.auth.models import Permission

    rows = Permission.objects.filter(group__name__in=roles).values_list("content_type__app_label", "codename")
    found = frozenset(f"{app}.{codename}" for app, codename in rows)
    _permissions_cache.put(key, found, ROLE_PERMISSIONS_CACHE_SECONDS)
    return found


def staff_roles() -> frozenset[str]:
    """The roles that make a claims user `is_staff` in this service (setting DRIVENOW_STAFF_ROLES)."""
    return frozenset(getattr(settings, "DRIVENOW_STAFF_ROLES", (Role.ADMIN,)))


class ClaimsUser(TokenUser):
    """A user made of a verified token's claims: `roles` (list of role names), `username`, `user_id`."""

    @cached_property
    def roles(self) -> frozenset[str]:
        claimed = self.token.get("roles", [])
        return (
            frozenset(str(role) for role in claimed if isinstance(role, str))
            if isinstance(claimed, list)
            else frozenset()
        )

    @cached_property
    def username(self) -> str:
        return str(self.token.get("username") or self.token.get("sub") or self.id)

    @cached_property
    def is_superuser(self) -> bool:
        return Role.ADMIN in self.roles

    @cached_property
    def is_staff(self) -> bool:
        return self.is_superuser or bool(self.roles & staff_roles())

    def get_all_permissions(self, obj: object | None = None) -> set[str]:
        return set(role_permissions(self.roles))

    def get_group_permissions(self, obj: object | None = None) -> set[str]:
        return self.get_all_permissions(obj)

    def has_perm(self, perm: str, obj: object | None = None) -> bool:
        return self.is_superuser or perm in role_permissions(self.roles)

    def has_perms(self, perm_list: Any, obj: object | None = None) -> bool:
        return all(self.has_perm(perm, obj) for perm in perm_list)

    def has_module_perms(self, module: str) -> bool:
        return self.is_superuser or any(perm.startswith(f"{module}.") for perm in role_permissions(self.roles))


class _DriveNowJWT(JWTAuthentication):
    """simplejwt's check, its many refusals (bad token, unknown or inactive user, changed password) one 401."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        try:
            return super().authenticate(request)
        except (TokenError, exceptions.AuthenticationFailed) as exc:
            raise exceptions.AuthenticationFailed(INVALID) from exc


class DatabaseUserJWT(_DriveNowJWT):
    """DriveNow's JWT naming a user of this service's database (booking): inactive or unknown users are refused."""


class ClaimsUserJWT(_DriveNowJWT, JWTStatelessUserAuthentication):
    """DriveNow's JWT in a service that has not got its users (inventory): the claims are the user."""


class OIDCVerifier:
    """Access tokens of an OpenID Connect provider, verified against its JWKS (fetched, cached, refetched for an
    unknown key id): signature, `iss`, `aud`, `exp`/`nbf`/`iat` with the configured clock skew."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._client: jwt.PyJWKClient | None = None

    def jwks_client(self) -> jwt.PyJWKClient:
        with self._lock:
            if self._client is None:
                url = self.config.get("JWKS_URL") or self._discover_jwks_url()
                self._client = jwt.PyJWKClient(
                    url,
                    cache_keys=True,
                    lifespan=max(1, int(self.config.get("JWKS_CACHE_SECONDS", 300))),
                    timeout=int(self.config.get("TIMEOUT", 5)),
                )
            return self._client

    def _discover_jwks_url(self) -> str:
        import requests

        issuer = str(self.config["ISSUER"]).rstrip("/")
        try:
            answer = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=self.config.get("TIMEOUT", 5))
            answer.raise_for_status()
            return str(answer.json()["jwks_uri"])
        except (requests.RequestException, ValueError, KeyError) as exc:
            raise exceptions.AuthenticationFailed("The identity provider's keys cannot be fetched now.") from exc

    def claims(self, raw: str) -> dict[str, Any]:
        try:
            key = self.jwks_client().get_signing_key_from_jwt(raw)
            return dict(
                jwt.decode(
                    raw,
                    key.key,
                    algorithms=list(self.config["ALGORITHMS"]),
                    audience=self.config["AUDIENCE"],
                    issuer=self.config["ISSUER"],
                    leeway=int(self.config.get("LEEWAY", 30)),
                    options={"require": ["exp", "iat", "iss", "aud", "sub"]},
                )
            )
        except jwt.PyJWKClientConnectionError as exc:
            raise exceptions.AuthenticationFailed("The identity provider's keys cannot be fetched now.") from exc
        except jwt.PyJWTError as exc:
            raise exceptions.AuthenticationFailed(INVALID) from exc

    def user(self, claims: dict[str, Any]) -> ClaimsUser:
        """The claims as a DriveNow user: the configured claim (dotted path) gives the provider's roles, mapped by
        ROLE_MAP to DriveNow's (unmapped names are kept when they are DriveNow roles, dropped otherwise)."""
        found: Any = claims
        for part in str(self.config.get("ROLES_CLAIM") or "roles").split("."):
            found = found.get(part) if isinstance(found, dict) else None
        provider_roles = [found] if isinstance(found, str) else found if isinstance(found, list) else []
        role_map: dict[str, str] = self.config.get("ROLE_MAP") or {}
        known = {role.value for role in Role}
        roles = sorted({role_map.get(str(r), str(r)) for r in provider_roles} & known)
        username = claims.get(self.config.get("USERNAME_CLAIM") or "preferred_username") or claims["sub"]
        return ClaimsUser(
            {  # type: ignore[arg-type]  # TokenUser reads its token like a mapping
                "user_id": f"oidc:{claims['sub']}",
                "sub": claims["sub"],
                "username": str(username),
                "email": claims.get("email") if claims.get("email_verified", True) else None,
                "roles": roles,
                "iss": claims["iss"],
            }
        )


_verifiers: dict[str, OIDCVerifier] = {}
_verifiers_lock = threading.Lock()


def oidc_verifier() -> OIDCVerifier:
    config: dict[str, Any] = getattr(settings, "DRIVENOW_OIDC", {})
    key = repr(sorted(config.items()))
    with _verifiers_lock:
        if key not in _verifiers:
            _verifiers[key] = OIDCVerifier(config)
        return _verifiers[key]


class BearerAuthentication(BaseAuthentication):
    """`Authorization: Bearer <token>`, for whichever of `jwt` and `oidc` DJANGO_AUTH_METHODS turned on."""

    www_authenticate_realm = "api"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != b"bearer":
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Authorization: Bearer takes one token.")
        try:
            raw = parts[1].decode("ascii")
            unverified = jwt.decode(raw, options={"verify_signature": False})
        except (UnicodeDecodeError, jwt.PyJWTError) as exc:
            raise exceptions.AuthenticationFailed(INVALID) from exc
        issuer = unverified.get("iss") if isinstance(unverified, dict) else None
        methods = tuple(getattr(settings, "DRIVENOW_AUTH_METHODS", ()))
        simple_jwt: dict[str, Any] = getattr(settings, "SIMPLE_JWT", {})
        oidc: dict[str, Any] = getattr(settings, "DRIVENOW_OIDC", {})
        if "jwt" in methods and issuer == simple_jwt.get("ISSUER"):
            verifier = DatabaseUserJWT() if getattr(settings, "DRIVENOW_JWT_DATABASE_USERS", False) else ClaimsUserJWT()
            return verifier.authenticate(request)
        if "oidc" in methods and issuer == oidc.get("ISSUER"):
            verified = oidc_verifier()
            claims = verified.claims(raw)
            return verified.user(claims), claims
        raise exceptions.AuthenticationFailed(INVALID)

    def authenticate_header(self, request: Request) -> str:
        return f'Bearer realm="{self.www_authenticate_realm}"'
