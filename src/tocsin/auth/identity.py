"""From a handshake or HTTP request to a verified (tenant, user) identity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tocsin.auth.errors import AuthError
from tocsin.auth.jwt import verify_jwt
from tocsin.config import Settings
from tocsin.models import Identity


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer …`` header value, if any."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def handshake_token(auth: Any, environ: Mapping[str, Any]) -> str | None:
    """The credential of a Socket.IO handshake: ``auth.token`` first, then the header."""
    if isinstance(auth, Mapping):
        token = auth.get("token")
        if isinstance(token, str) and token.strip():
            return token.strip()
    return bearer_token(environ.get("HTTP_AUTHORIZATION"))


def identity_from_claims(claims: Mapping[str, Any], settings: Settings) -> Identity:
    """Map claims to an identity with the configured claim names.

    Raises:
        AuthError: ``invalid_token`` without a user id, ``no_tenant`` without a tenant.
    """
    user = claims.get(settings.claim_user_id) or claims.get("sub")
    if not isinstance(user, str | int) or isinstance(user, bool) or str(user) == "":
        raise AuthError("invalid_token", "no user id in the claims")
    tenant = claims.get(settings.claim_tenant_id)
    if not isinstance(tenant, str | int) or isinstance(tenant, bool) or str(tenant) == "":
        raise AuthError("no_tenant", f"no {settings.claim_tenant_id!r} claim")
    role = claims.get(settings.claim_role)
    return Identity(
        tenant_id=str(tenant), user_id=str(user), role=role if isinstance(role, str) else None
    )


def authenticate(token: str | None, settings: Settings) -> Identity:
    """Verify a token and return who it is.

    Raises:
        AuthError: with one of the documented reasons.
    """
    if not token:
        raise AuthError("missing_token", "no token in auth.token or Authorization header")
    if not settings.jwt_secret:
        raise AuthError("invalid_token", "TOCSIN_JWT_SECRET is not set: no token can be verified")
    return identity_from_claims(verify_jwt(token, settings.jwt_secret), settings)
