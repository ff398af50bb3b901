"""Why an end user was refused."""

from __future__ import annotations

from typing import Literal

Reason = Literal["missing_token", "invalid_token", "expired", "no_tenant"]


class AuthError(Exception):
    """A refused credential; ``reason`` is the stable code clients see in ``data.reason``."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason: Reason = reason
        self.detail = detail or reason
