"""One-click unsubscribe tokens (RFC 8058): who turns which event's e-mail off.

A token is ``base64url(version ‖ payload ‖ HMAC-SHA256(key, version ‖ payload))`` without
padding, the payload being the JSON array ``[tenant, user, event]``. It does not expire: the
link in an old e-mail must still work, and all it can do is turn one e-mail preference off.
The key is derived from the caller's secret for this purpose only, so a token can never pass
for anything else signed with that secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from urllib.parse import quote

VERSION = 1
_MAC_SIZE = hashlib.sha256().digest_size
_PURPOSE = b"tocsin mail unsubscribe"
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


class InvalidUnsubscribeToken(ValueError):
    """A token that was not made by :func:`unsubscribe_token` with this secret, or altered."""


def _key(secret: str | bytes) -> bytes:
    raw = secret.encode() if isinstance(secret, str) else secret
    if not raw:
        raise ValueError("the unsubscribe secret must not be empty")
    return hmac.new(raw, _PURPOSE, hashlib.sha256).digest()


def _mac(secret: str | bytes, signed: bytes) -> bytes:
    return hmac.new(_key(secret), signed, hashlib.sha256).digest()


def unsubscribe_token(secret: str | bytes, tenant: str, user: str, event: str) -> str:
    """A URL-safe token naming (``tenant``, ``user``, ``event``), signed with ``secret``.

    Raises:
        ValueError: an empty secret, tenant, user or event.
    """
    if not (tenant and user and event):
        raise ValueError("an unsubscribe token needs a tenant, a user and an event")
    payload = json.dumps([tenant, user, event], ensure_ascii=False, separators=(",", ":"))
    signed = bytes([VERSION]) + payload.encode()
    token = base64.urlsafe_b64encode(signed + _mac(secret, signed))
    return token.rstrip(b"=").decode("ascii")


def read_unsubscribe_token(secret: str | bytes, token: str) -> tuple[str, str, str]:
    """The (tenant, user, event) a token names, once its signature is checked.

    Raises:
        InvalidUnsubscribeToken: not base64url, an unknown version, a signature that does not
            match (altered, or signed with another secret), or a malformed payload.
    """
    # The decoder skips foreign characters: a token with one added must not pass.
    if not _BASE64URL.fullmatch(token):
        raise InvalidUnsubscribeToken("the unsubscribe token is not base64url")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise InvalidUnsubscribeToken("the unsubscribe token is not base64url") from None
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != token:
        # Other spellings of the same bytes (the unused bits of the last character).
        raise InvalidUnsubscribeToken("the unsubscribe token is not in canonical base64url")
    if len(raw) <= 1 + _MAC_SIZE:
        raise InvalidUnsubscribeToken("the unsubscribe token is too short")
    if raw[0] != VERSION:
        raise InvalidUnsubscribeToken(f"unknown unsubscribe token version {raw[0]}")
    signed, mac = raw[:-_MAC_SIZE], raw[-_MAC_SIZE:]
    if not hmac.compare_digest(mac, _mac(secret, signed)):
        raise InvalidUnsubscribeToken(
            "the unsubscribe token's signature does not match (altered, or another secret)"
        )
    try:
        fields = json.loads(signed[1:].decode())
    except (UnicodeDecodeError, ValueError):
        raise InvalidUnsubscribeToken("the unsubscribe token's payload is malformed") from None
    if not (
        isinstance(fields, list)
        and len(fields) == 3
        and all(isinstance(f, str) and f for f in fields)
    ):
        raise InvalidUnsubscribeToken("the unsubscribe token's payload is malformed")
    return fields[0], fields[1], fields[2]


def unsubscribe_url(base_url: str, token: str) -> str:
    """The one-click link: ``<base_url>/api/v1/mail/unsubscribe?token=<token>``, where
    ``base_url`` is Tocsin's public address (``https://notify.firm.fr``)."""
    return f"{base_url.rstrip('/')}/api/v1/mail/unsubscribe?token={quote(token, safe='')}"
