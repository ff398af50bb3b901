"""What a push carries (DESIGN §8): ``{id, event, title, body, url?, critical, unreadCount}``
as compact JSON of at most 3 KB, and the ``Topic`` that lets a newer push of the same
notification replace one still waiting at the push service."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from tocsin.push.vapid import b64url

# Push services take 4096 bytes of encrypted record (RFC 8291 §4), 103 of which are
# header, tag and padding; 3 KB leaves room and is what the design promises.
MAX_PAYLOAD_BYTES = 3072
ELLIPSIS = "…"
# Trimmed first to last; `url` is dropped (the service worker then opens the app's root).
_TRIMMABLE = ("body", "title")
TOPIC_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class PayloadTooLarge(ValueError):
    """The payload exceeds the limit even with its text trimmed and its URL dropped."""


def _dumps(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _trim_field(payload: dict[str, Any], name: str, limit: int) -> None:
    """Shorten ``payload[name]`` (a string) to the longest prefix + "…" that fits, or "".

    Each character takes at least one byte, so no more than ``limit`` of them can fit:
    the binary search runs over at most that many, whatever the text's length.
    """
    text = payload[name][:limit]
    low, high = 0, len(text)  # `low` characters always fit (checked for 0 below)
    payload[name] = ""
    if len(_dumps(payload)) > limit:
        return
    while low < high:
        middle = (low + high + 1) // 2
        payload[name] = text[:middle].rstrip() + ELLIPSIS
        if len(_dumps(payload)) <= limit:
            low = middle
        else:
            high = middle - 1
    payload[name] = text[:low].rstrip() + ELLIPSIS if low else ""


def encode_payload(payload: Mapping[str, Any], limit: int = MAX_PAYLOAD_BYTES) -> bytes:
    """``payload`` as compact UTF-8 JSON of at most ``limit`` bytes.

    Too long, ``body`` then ``title`` are cut (ending with "…"), then ``url`` is dropped.
    The given mapping is never changed.

    Raises:
        PayloadTooLarge: the rest (id, event…) alone exceeds ``limit``.
    """
    encoded = _dumps(payload)
    if len(encoded) <= limit:
        return encoded
    trimmed = dict(payload)
    for name in _TRIMMABLE:
        if isinstance(trimmed.get(name), str):
            _trim_field(trimmed, name, limit)
            if len(encoded := _dumps(trimmed)) <= limit:
                return encoded
    trimmed.pop("url", None)
    encoded = _dumps(trimmed)
    if len(encoded) <= limit:
        return encoded
    raise PayloadTooLarge(
        f"push payload is {len(encoded)} bytes with its text cut, more than {limit}"
    )


def topic_for(notification_id: str) -> str:
    """The ``Topic`` of a notification's pushes: 32 base64url characters from its id.

    Pushes of one notification share it, so a newer one replaces an older one that the
    push service still holds (the device was offline) instead of showing twice.
    """
    digest = hashlib.sha256(notification_id.encode("utf-8")).digest()
    return b64url(digest)[:32]
