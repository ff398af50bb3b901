"""Session tokens forged in Python, for attack and diagnostics tests (the npm-minted ones
live in tests/compat/minting.py)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from joserfc import jwe
from joserfc.jwk import OctKey

from tocsin.auth.nextauth import derive_key, key_id

AUTH_SECRET = "auth-secret-for-the-attack-matrix-0123456789"


def b64(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"id": "alice", "tenantId": "firm-a", "iat": now, "exp": now + 3600, **extra}


def authjs_token(
    claims_: dict[str, Any],
    secret: str = AUTH_SECRET,
    *,
    enc: str = "A256CBC-HS512",
    salt: str = "authjs.session-token",
    alg: str = "dir",
) -> str:
    length = {"A256CBC-HS512": 64, "A128GCM": 16}.get(enc, 32)
    key = derive_key(secret, salt, f"Auth.js Generated Encryption Key ({salt})".encode(), length)
    header = {"alg": alg, "enc": enc, "kid": key_id(key)}
    return jwe.encrypt_compact(
        header, json.dumps(claims_).encode(), OctKey.import_key(key), algorithms=[alg, enc]
    )
