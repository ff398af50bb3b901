"""API keys for publishers: ``tsk_<key id>_<secret>``; only a hash of the secret is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

PREFIX = "tsk_"


@dataclass(frozen=True, slots=True)
class Publisher:
    """Who is publishing: a tenant's key, or the admin key (``tenant_id`` None)."""

    tenant_id: str | None
    key_id: str

    @property
    def is_admin(self) -> bool:
        """The admin key may publish anywhere, including to everyone."""
        return self.tenant_id is None


def new_key() -> tuple[str, str, str]:
    """Generate a key: returns (full key to show once, key id, secret hash)."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return f"{PREFIX}{key_id}_{secret}", key_id, hash_secret(secret)


def hash_secret(secret: str) -> str:
    """SHA-256 is enough: the secret is 256 random bits, not a password."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def split_key(key: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    if not key.startswith(PREFIX):
        return None
    key_id, sep, secret = key[len(PREFIX) :].partition("_")
    if not sep or not key_id or not secret:
        return None
    return key_id, secret


def matches(secret: str, secret_hash: str) -> bool:
    """Constant-time comparison of a presented secret with the stored hash."""
    return hmac.compare_digest(hash_secret(secret), secret_hash)


def is_admin_key(presented: str, admin_key: str | None) -> bool:
    """Constant-time check against ``TOCSIN_ADMIN_KEY``."""
    return bool(admin_key) and hmac.compare_digest(
        presented.encode("utf-8"), (admin_key or "").encode("utf-8")
    )
