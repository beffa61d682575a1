"""Signing keys for tests: an RSA key pair made once per test run and put in the environment, so that the test
settings (jwt on) and every live service a test starts (which inherit the environment) agree on it."""

from __future__ import annotations

from collections.abc import MutableMapping

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def rsa_pem_pair(bits: int = 2048) -> tuple[str, str]:
    """(private, public) PEM text of a new RSA key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def ensure_test_identity(environ: MutableMapping[str, str]) -> None:
    """Tests run with every built-in method on (`token,session,jwt`) unless the environment says otherwise, with a
    key pair made here when none is given."""
    environ.setdefault("DJANGO_AUTH_METHODS", "token,session,jwt")
    if not environ.get("DJANGO_JWT_PUBLIC_KEY") and not environ.get("DJANGO_JWT_PUBLIC_KEY_FILE"):
        private, public = rsa_pem_pair()
        environ["DJANGO_JWT_PRIVATE_KEY"] = private
        environ["DJANGO_JWT_PUBLIC_KEY"] = public
