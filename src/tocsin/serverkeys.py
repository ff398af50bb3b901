"""Keys a node derives from the secrets it already has, one per purpose, so that signing
unsubscribe links or pseudonymising an erased user needs no setting of its own and still
gives the same result on every node and after a restart."""

from __future__ import annotations

import hashlib

from tocsin.config import Settings


def server_key(settings: Settings, purpose: str) -> bytes | None:
    """A 32-byte key for ``purpose``, from the first secret set of ``TOCSIN_JWT_SECRET``,
    ``AUTH_SECRET``, ``NEXTAUTH_SECRET`` and ``TOCSIN_ADMIN_KEY``; None when none is."""
    for secret in (
        settings.jwt_secret,
        settings.auth_secret,
        settings.nextauth_secret,
        settings.admin_key,
    ):
        if secret:
            return hashlib.sha256(f"tocsin-{purpose}\0{secret}".encode()).digest()
    return None
