"""Why an end user was refused."""

from __future__ import annotations

from typing import Literal

Reason = Literal["missing_token", "invalid_token", "expired", "no_tenant"]

# What clients are told. The operator's diagnosis can name configured secret variables,
# key ids and the derivations tried: that goes to the server log and `tocsin checktoken`.
PUBLIC_MESSAGES: dict[Reason, str] = {
    "missing_token": "no session cookie, auth.token or Authorization: Bearer header",
    "invalid_token": "the session cookie or token is not valid",
    "expired": "the session has expired: sign in again",
    "no_tenant": "the session names no tenant",
}


class AuthError(Exception):
    """A refused credential.

    ``reason`` is the stable code clients see in ``data.reason``; ``detail`` is the generic
    message clients may be shown; ``diagnosis`` says exactly why, for logs and the CLI only.
    """

    def __init__(self, reason: Reason, diagnosis: str = "") -> None:
        super().__init__(diagnosis or reason)
        self.reason: Reason = reason
        self.detail = PUBLIC_MESSAGES[reason]
        self.diagnosis = diagnosis or self.detail
