"""From a credential to a verified session: who it is (tenant, user) and until when."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tocsin.auth.claims import check_times
from tocsin.auth.compact import check_length
from tocsin.auth.credentials import Credential
from tocsin.auth.dbsession import DatabaseSessions
from tocsin.auth.errors import AuthError
from tocsin.auth.jwt import verify_signed_jwt
from tocsin.auth.nextauth import decrypt_session_token
from tocsin.config import Settings
from tocsin.models import Identity
from tocsin.redact import redact

log = logging.getLogger("tocsin.auth")


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
            DatabaseSessions(
                settings.nextauth_url,
                settings.session_cache_seconds,
                refusal_cache_seconds=settings.session_refusal_cache_seconds,
                max_lookups=settings.session_lookups,
            )
            if settings.nextauth_url
            else None
        )

    async def aclose(self) -> None:
        """Release the HTTP client of database-session lookups, if one was opened."""
        if self.database_sessions is not None:
            await self.database_sessions.aclose()

    async def authenticate(self, credential: Credential | None) -> Session:
        """Verify a credential.

        Every malformed credential is an :class:`AuthError`, whatever its shape. The
        diagnosis (which may name secret variables) is logged at info, never sent.

        Raises:
            AuthError: ``missing_token``, ``invalid_token``, ``expired`` or ``no_tenant``,
            with a ``diagnosis`` that says exactly why.
        """
        if credential is None:
            raise AuthError("missing_token")
        try:
            check_length(credential.value)
            claims, method = await self._claims(credential)
            expires_at = check_times(claims)
            identity = identity_from_claims(claims, self.settings)
        except AuthError as exc:
            log.info("refused %s credential: %s (%s)", credential.source, exc.reason, exc.diagnosis)
            raise
        return Session(identity, expires_at, method, claims)

    async def _claims(self, credential: Credential) -> tuple[dict[str, Any], str]:
        token = credential.value
        dots = token.count(".")
        try:
            if dots == 4:
                opened = decrypt_session_token(
                    token, self.settings.session_secrets, credential.cookie_name
                )
                return opened.claims, f"{opened.derivation.describe()} via {opened.secret_name}"
            if dots == 2:
                return verify_signed_jwt(
                    token, secret=self.settings.jwt_secret, public_key=self.settings.jwt_public_key
                )
        except (ValueError, TypeError, RecursionError) as exc:
            # The parsers above refuse malformed tokens themselves: this is the net for a
            # shape they missed, which is a bug to fix, but never a 500 for the client.
            log.warning("unexpected %s reading a token: %s", type(exc).__name__, exc)
            raise AuthError("invalid_token", f"malformed token ({type(exc).__name__})") from None
        if credential.source == "cookie" and self.database_sessions is not None:
            claims = await self.database_sessions.resolve(credential)
            return claims, f"database session from {redact(self.database_sessions.endpoint)}"
        hint = (
            " (a database-strategy session cookie? set NEXTAUTH_URL to resolve it)"
            if credential.source == "cookie"
            else ""
        )
        raise AuthError("invalid_token", f"not a JWT or an encrypted session token{hint}")
