"""From a credential to a verified session: who it is (tenant, user) and until when."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tocsin.auth.claims import check_times
from tocsin.auth.credentials import Credential
from tocsin.auth.dbsession import DatabaseSessions
from tocsin.auth.errors import AuthError
from tocsin.auth.jwt import verify_signed_jwt
from tocsin.auth.nextauth import decrypt_session_token
from tocsin.config import Settings
from tocsin.models import Identity


@dataclass(frozen=True, slots=True)
class Session:
    """A verified user session; ``method`` says how it was verified (for diagnostics)."""

    identity: Identity
    expires_at: float | None
    method: str
    claims: dict[str, Any]


def identity_from_claims(claims: Mapping[str, Any], settings: Settings) -> Identity:
    """Map claims to an identity with the configured claim names.

    Raises:
        AuthError: ``invalid_token`` without a user id, ``no_tenant`` without a tenant.
    """

    def text(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, str | int) or str(value) == "":
            return None
        return str(value)

    user = text(claims.get(settings.claim_user_id)) or text(claims.get("sub"))
    if user is None:
        raise AuthError(
            "invalid_token", f"no user id in the claims ({settings.claim_user_id!r} or 'sub')"
        )
    tenant = text(claims.get(settings.claim_tenant_id))
    if tenant is None:
        raise AuthError("no_tenant", f"no {settings.claim_tenant_id!r} claim")
    role = claims.get(settings.claim_role)
    return Identity(tenant_id=tenant, user_id=user, role=role if isinstance(role, str) else None)


class Authenticator:
    """Verifies NextAuth v4 / Auth.js v5 session tokens, signed JWTs and database sessions."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.database_sessions = (
            DatabaseSessions(settings.nextauth_url, settings.session_cache_seconds)
            if settings.nextauth_url
            else None
        )

    async def authenticate(self, credential: Credential | None) -> Session:
        """Verify a credential.

        Raises:
            AuthError: ``missing_token``, ``invalid_token``, ``expired`` or ``no_tenant``,
            with a message that says exactly why.
        """
        if credential is None:
            raise AuthError(
                "missing_token", "no session cookie, auth.token or Authorization: Bearer header"
            )
        claims, method = await self._claims(credential)
        expires_at = check_times(claims)
        return Session(identity_from_claims(claims, self.settings), expires_at, method, claims)

    async def _claims(self, credential: Credential) -> tuple[dict[str, Any], str]:
        token = credential.value
        dots = token.count(".")
        if dots == 4:
            opened = decrypt_session_token(
                token, self.settings.session_secrets, credential.cookie_name
            )
            return opened.claims, f"{opened.derivation.describe()} via {opened.secret_name}"
        if dots == 2:
            return verify_signed_jwt(
                token, secret=self.settings.jwt_secret, public_key=self.settings.jwt_public_key
            )
        if credential.source == "cookie" and self.database_sessions is not None:
            claims = await self.database_sessions.resolve(credential)
            return claims, f"database session from {self.database_sessions.endpoint}"
        hint = (
            " (a database-strategy session cookie? set NEXTAUTH_URL to resolve it)"
            if credential.source == "cookie"
            else ""
        )
        raise AuthError("invalid_token", f"not a JWT or an encrypted session token{hint}")
