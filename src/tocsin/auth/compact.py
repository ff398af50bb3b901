"""The shape of a compact JWS or JWE, checked before any cryptography library sees it.

Libraries raise what they like on malformed input (``binascii.Error`` from joserfc for a
bad segment of a JWE): a token that passes :func:`split_compact` has the right number of
segments, each strict base64url, and a JSON object for a header, so what can still go
wrong is the token's key or content.
"""

from __future__ import annotations

import json
from typing import Any

from joserfc.util import urlsafe_b64decode

from tocsin.auth.errors import AuthError

# Auth.js splits a large session over several 4 KB cookies; 64 KB leaves room for many.
MAX_TOKEN_LENGTH = 65_536


def check_length(token: str) -> None:
    """Refuse a token longer than :data:`MAX_TOKEN_LENGTH` characters.

    Raises:
        AuthError: ``invalid_token``.
    """
    if len(token) > MAX_TOKEN_LENGTH:
        raise AuthError(
            "invalid_token", f"token of {len(token)} characters (at most {MAX_TOKEN_LENGTH})"
        )


def split_compact(token: str, parts: int, kind: str) -> tuple[dict[str, Any], list[bytes]]:
    """Split a compact token into its decoded header and its decoded segments.

    ``parts`` is 3 for a JWS, 5 for a JWE; ``kind`` names it in diagnoses.

    Raises:
        AuthError: ``invalid_token`` for a token too long, the wrong number of segments, a
        segment that is not strict base64url, or a header that is not a JSON object.
    """
    check_length(token)
    segments = token.split(".")
    if len(segments) != parts:
        raise AuthError("invalid_token", f"not a {kind}: {len(segments)} segments, not {parts}")
    decoded: list[bytes] = []
    for number, segment in enumerate(segments, start=1):
        try:
            decoded.append(urlsafe_b64decode(segment.encode("ascii")))
        except (ValueError, UnicodeError):
            raise AuthError(
                "invalid_token", f"segment {number} of the {kind} is not base64url"
            ) from None
    if not decoded[0]:
        raise AuthError("invalid_token", f"the {kind} has an empty header")
    try:
        header = json.loads(decoded[0])
    except (ValueError, RecursionError):
        raise AuthError("invalid_token", f"the {kind} header is not JSON") from None
    if not isinstance(header, dict):
        raise AuthError("invalid_token", f"the {kind} header is not a JSON object")
    return header, decoded
