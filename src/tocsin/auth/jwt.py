"""Plain JWTs signed with ``TOCSIN_JWT_SECRET`` (HS256): for apps and tools without NextAuth."""

from __future__ import annotations

import time
from typing import Any

from joserfc import jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError, InvalidClaimError, JoseError
from joserfc.jwk import OctKey

from tocsin.auth.errors import AuthError

ALGORITHMS = ["HS256"]
# NextAuth tolerates 15 s of clock skew; so do we.
CLOCK_TOLERANCE = 15


def _key(secret: str) -> OctKey:
    return OctKey.import_key(secret.encode("utf-8"))


def mint_jwt(
    secret: str,
    *,
    user_id: str,
    tenant_id: str,
    role: str | None = None,
    ttl: int = 3600,
    extra: dict[str, Any] | None = None,
) -> str:
    """Sign a token for (tenant, user) valid ``ttl`` seconds (what `tocsin token` prints)."""
    now = int(time.time())
    claims: dict[str, Any] = {"sub": user_id, "id": user_id, "tenantId": tenant_id}
    if role:
        claims["role"] = role
    claims.update(iat=now, exp=now + ttl)
    if extra:
        claims.update(extra)
    return jwt.encode({"alg": "HS256"}, claims, _key(secret), algorithms=ALGORITHMS)


def verify_jwt(token: str, secret: str) -> dict[str, Any]:
    """Check signature and time claims; return the claims.

    Raises:
        AuthError: ``invalid_token`` (bad format, signature or algorithm) or ``expired``.
    """
    try:
        decoded = jwt.decode(token, _key(secret), algorithms=ALGORITHMS)
    except BadSignatureError:
        raise AuthError("invalid_token", "bad signature") from None
    except (JoseError, ValueError) as exc:
        raise AuthError("invalid_token", f"not a valid HS256 JWT: {exc}") from None
    registry = jwt.JWTClaimsRegistry(leeway=CLOCK_TOLERANCE)
    try:
        registry.validate(decoded.claims)
    except ExpiredTokenError:
        raise AuthError("expired", "token has expired") from None
    except InvalidClaimError as exc:
        raise AuthError("invalid_token", f"invalid claim: {exc}") from None
    except JoseError as exc:
        raise AuthError("invalid_token", str(exc)) from None
    return dict(decoded.claims)
