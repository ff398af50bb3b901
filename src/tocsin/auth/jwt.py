"""Signed JWTs for apps without NextAuth: HS256 with ``TOCSIN_JWT_SECRET``, or RS256/ES256
verified with ``TOCSIN_JWT_PUBLIC_KEY``."""

from __future__ import annotations

import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import ECKey, OctKey, RSAKey

from tocsin.auth.compact import split_compact
from tocsin.auth.errors import AuthError

HMAC_ALGORITHM = "HS256"
PUBLIC_KEY_ALGORITHMS = ("RS256", "ES256")


@lru_cache(maxsize=8)
def _secret_key(secret: str) -> OctKey:
    # Importing builds the key object anew each time: once per secret is enough.
    return OctKey.import_key(secret.encode("utf-8"))


@lru_cache(maxsize=8)
def load_public_key(value: str) -> RSAKey | ECKey:
    """A PEM public key given inline or as a path.

    Raises:
        ValueError: neither an RSA nor an EC public key.
    """
    text = value if "-----BEGIN" in value else Path(value).read_text()
    for kind in (RSAKey, ECKey):
        try:
            return kind.import_key(text)
        except (JoseError, ValueError, TypeError):
            continue
    raise ValueError("TOCSIN_JWT_PUBLIC_KEY is not an RSA or EC public key in PEM format")


def mint_jwt(
    secret: str,
    *,
    user_id: str,
    tenant_id: str,
    role: str | None = None,
    ttl: int = 3600,
    extra: dict[str, Any] | None = None,
) -> str:
    """Sign an HS256 token for (tenant, user) valid ``ttl`` seconds (what `tocsin token` prints)."""
    now = int(time.time())
    claims: dict[str, Any] = {"sub": user_id, "id": user_id, "tenantId": tenant_id}
    if role:
        claims["role"] = role
    claims.update(iat=now, exp=now + ttl)
    if extra:
        claims.update(extra)
    return jwt.encode(
        {"alg": HMAC_ALGORITHM}, claims, _secret_key(secret), algorithms=[HMAC_ALGORITHM]
    )


def verify_signed_jwt(
    token: str, *, secret: str | None, public_key: str | None
) -> tuple[dict[str, Any], str]:
    """Verify the signature with the key its algorithm calls for; return (claims, method).

    Each algorithm has exactly one key: HS256 only ever uses the secret and RS256/ES256 only
    the public key, so an HS256 token "signed" with the public key is refused.

    Raises:
        AuthError: ``invalid_token`` (format, algorithm, key or signature).
    """
    header, _ = split_compact(token, 3, "JWT")
    alg = header.get("alg")
    key: OctKey | RSAKey | ECKey
    if alg == HMAC_ALGORITHM:
        if not secret:
            raise AuthError("invalid_token", "HS256 token but TOCSIN_JWT_SECRET is not set")
        key, method = _secret_key(secret), "HS256 JWT via TOCSIN_JWT_SECRET"
    elif alg in PUBLIC_KEY_ALGORITHMS:
        if not public_key:
            raise AuthError("invalid_token", f"{alg} token but TOCSIN_JWT_PUBLIC_KEY is not set")
        key, method = load_public_key(public_key), f"{alg} JWT via TOCSIN_JWT_PUBLIC_KEY"
    else:
        allowed = ", ".join((HMAC_ALGORITHM, *PUBLIC_KEY_ALGORITHMS))
        raise AuthError(
            "invalid_token", f"unexpected JWT alg {alg!r:.40}: only {allowed} are accepted"
        )
    try:
        decoded = jwt.decode(token, key, algorithms=[str(alg)])
    except BadSignatureError:
        raise AuthError("invalid_token", f"bad {alg} signature") from None
    except (JoseError, ValueError, TypeError, RecursionError) as exc:
        raise AuthError("invalid_token", f"not a valid {alg} JWT: {exc}"[:300]) from None
    return dict(decoded.claims), method
