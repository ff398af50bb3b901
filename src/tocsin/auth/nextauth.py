"""NextAuth v4 and Auth.js v5 session tokens (encrypted JWTs: JWE ``dir``).

- NextAuth v4: ``A256GCM``, key = HKDF-SHA256(secret, salt="",
  info="NextAuth.js Generated Encryption Key", 32 bytes); no ``kid``.
- Auth.js v5: salt = the cookie name, info = "Auth.js Generated Encryption Key (<salt>)";
  ``A256CBC-HS512`` with 64 bytes (``A256GCM`` with 32 in older releases); ``kid`` = the
  RFC 7638 thumbprint of the derived key, which tells which rotated secret was used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import OctKey, thumbprint

from tocsin.auth.compact import split_compact
from tocsin.auth.errors import AuthError

V4_COOKIES = ("next-auth.session-token", "__Secure-next-auth.session-token")
V5_COOKIES = ("authjs.session-token", "__Secure-authjs.session-token")
SESSION_COOKIES = V4_COOKIES + V5_COOKIES

ALG = "dir"
ENC_V4 = "A256GCM"
ENC_V5 = "A256CBC-HS512"
_KEY_LENGTH = {ENC_V4: 32, ENC_V5: 64}
_V4_INFO = b"NextAuth.js Generated Encryption Key"


@dataclass(frozen=True, slots=True)
class Derivation:
    """How a key is derived from a secret: which format, salt and encryption."""

    label: str  # "NextAuth v4" or "Auth.js v5"
    salt: str
    enc: str

    @property
    def info(self) -> bytes:
        """The HKDF info string of this format."""
        if self.label == "NextAuth v4":
            return _V4_INFO
        return f"Auth.js Generated Encryption Key ({self.salt})".encode()

    def describe(self) -> str:
        """For error messages and `tocsin checktoken`."""
        salt = f"salt {self.salt!r}" if self.salt else "empty salt"
        return f"{self.label} ({self.enc}, {salt})"


@lru_cache(maxsize=256)
def derive_key(secret: str, salt: str, info: bytes, length: int) -> bytes:
    """HKDF-SHA256 of a UTF-8 secret (cached: the same few secrets are used all day)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=salt.encode(), info=info)
    return hkdf.derive(secret.encode("utf-8"))


@lru_cache(maxsize=256)
def key_id(key: bytes) -> str:
    """The ``kid`` Auth.js puts in the header: RFC 7638 thumbprint, SHA-256 or SHA-512."""
    value = OctKey.import_key(key).as_dict()
    return thumbprint(value, "sha512") if len(key) == 64 else thumbprint(value, "sha256")


def read_header(token: str) -> dict[str, Any]:
    """The protected header of a compact JWE, without decrypting.

    Raises:
        AuthError: ``invalid_token`` when it is not a five-part JWE of base64url segments
        with a JSON object for a header.
    """
    header, _ = split_compact(token, 5, "JWE")
    return header


def derivations_for(cookie_name: str | None, enc: str) -> list[Derivation]:
    """Which derivations may have produced a token: the cookie name settles the salt.

    Outside a cookie there is no name to give the salt: try NextAuth v4 (only for
    ``A256GCM``), then Auth.js with ``authjs.session-token``, then the ``__Secure-`` one.
    """
    name = cookie_name
    if name in V4_COOKIES:
        return [Derivation("NextAuth v4", "", enc)] if enc == ENC_V4 else []
    if name in V5_COOKIES:
        return [Derivation("Auth.js v5", name, enc)]
    found = [Derivation("Auth.js v5", salt, enc) for salt in V5_COOKIES]
    if enc == ENC_V4:
        found.insert(0, Derivation("NextAuth v4", "", enc))
    return found


@dataclass(frozen=True, slots=True)
class Decrypted:
    """A session token opened: its claims, and which secret and derivation opened it."""

    claims: dict[str, Any]
    secret_name: str
    derivation: Derivation


def decrypt_session_token(
    token: str, secrets: list[tuple[str, str]], cookie_name: str | None = None
) -> Decrypted:
    """Decrypt a NextAuth/Auth.js session token with the configured secrets.

    Only ``dir`` with ``A256GCM`` or ``A256CBC-HS512`` is accepted. Claims are not
    checked here (see :func:`tocsin.auth.claims.check_times`).

    Raises:
        AuthError: ``invalid_token``, with a message saying what was tried.
    """
    header = read_header(token)
    alg, enc = header.get("alg"), header.get("enc")
    if alg != ALG or not isinstance(enc, str) or enc not in _KEY_LENGTH:
        raise AuthError(
            "invalid_token",
            f"unexpected JWE algorithms alg={alg!r:.40} enc={enc!r:.40}: "
            f"only alg 'dir' with enc {ENC_V4} or {ENC_V5} are accepted",
        )
    if not secrets:
        raise AuthError(
            "invalid_token",
            "no AUTH_SECRET or NEXTAUTH_SECRET is configured: session tokens cannot be read",
        )
    derivations = derivations_for(cookie_name, enc)
    if not derivations:
        raise AuthError(
            "invalid_token", f"cookie {cookie_name!r} holds NextAuth v4 tokens, which use {ENC_V4}"
        )
    kid = header.get("kid")
    tried: list[str] = []
    for derivation in derivations:
        for secret_name, secret in secrets:
            key = derive_key(secret, derivation.salt, derivation.info, _KEY_LENGTH[enc])
            if kid is not None and key_id(key) != kid:
                continue
            tried.append(secret_name)
            try:
                opened = jwe.decrypt_compact(
                    token, OctKey.import_key(key), algorithms=[ALG, str(enc)]
                )
            except (JoseError, ValueError, TypeError):
                # Any failure to open it with this key: try the next one.
                continue
            try:
                claims = json.loads(opened.plaintext or b"")
            except (ValueError, RecursionError):
                raise AuthError("invalid_token", "decrypted payload is not JSON") from None
            if not isinstance(claims, dict):
                raise AuthError("invalid_token", "decrypted payload is not a JSON object")
            return Decrypted(claims, secret_name, derivation)
    names = ", ".join(name for name, _ in secrets)
    ways = "; ".join(d.describe() for d in derivations)
    if kid is not None and not tried:
        reason = f"its kid {kid!r:.100} matches no key derived from {names} ({ways})"
    else:
        reason = f"no configured secret decrypts it (tried {names}; {ways})"
    raise AuthError("invalid_token", f"session token refused: {reason}")


def encrypt_session_token(
    claims: dict[str, Any], secret: str, *, cookie_name: str = "authjs.session-token"
) -> str:
    """Make a session token exactly as Auth.js v5 would for ``cookie_name`` (for `tocsin demo`).

    A NextAuth v4 cookie name gives a v4 token (``A256GCM``, no ``kid``).
    """
    if cookie_name in V4_COOKIES:
        derivation = Derivation("NextAuth v4", "", ENC_V4)
    else:
        derivation = Derivation("Auth.js v5", cookie_name, ENC_V5)
    key = derive_key(secret, derivation.salt, derivation.info, _KEY_LENGTH[derivation.enc])
    header: dict[str, Any] = {"alg": ALG, "enc": derivation.enc}
    if derivation.label == "Auth.js v5":
        header["kid"] = key_id(key)
    return jwe.encrypt_compact(
        header,
        json.dumps(claims).encode("utf-8"),
        OctKey.import_key(key),
        algorithms=[ALG, derivation.enc],
    )
