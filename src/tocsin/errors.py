"""Errors the service layer raises; every entry point turns them into its own wire format.

::

    TocsinError                 (code, message, field, status)
     ├── BadRequest             400  malformed JSON or parameters
     ├── Unauthorized           401  no or unknown credential
     ├── Forbidden              403  valid credential, not allowed here
     ├── NotFound               404
     ├── Conflict               409  idempotency key reused for another request
     ├── PayloadTooLarge        413
     ├── UnsupportedMediaType   415  a body of a content type the route does not take
     ├── RateLimited            429  over a rate limit (``retry_after`` seconds)
     └── ValidationFailed       422  a field is missing or wrong (``field`` names it)
"""

from __future__ import annotations

from typing import Any, ClassVar


class TocsinError(Exception):
    """Base class: a stable ``code``, a human ``message`` and the ``field`` at fault, if any."""

    status: ClassVar[int] = 400
    default_code: ClassVar[str] = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.field = field
        self.details = details or []

    def to_json(self) -> dict[str, Any]:
        """The JSON body of an HTTP error, or the ``error`` of a Socket.IO acknowledgement."""
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        if self.details:
            body["details"] = self.details
        return body


class BadRequest(TocsinError):
    """The request could not be read."""


class Unauthorized(TocsinError):
    """No credential, or one that is not valid."""

    status = 401
    default_code = "unauthorized"


class Forbidden(TocsinError):
    """A valid credential that does not allow this."""

    status = 403
    default_code = "forbidden"


class NotFound(TocsinError):
    """No such resource."""

    status = 404
    default_code = "not_found"


class Conflict(TocsinError):
    """The request conflicts with an earlier one."""

    status = 409
    default_code = "conflict"


class PayloadTooLarge(TocsinError):
    """The body is over the configured limit."""

    status = 413
    default_code = "payload_too_large"


class UnsupportedMediaType(TocsinError):
    """The body's ``Content-Type`` is not one the route takes."""

    status = 415
    default_code = "unsupported_media_type"


class RateLimited(TocsinError):
    """Over a rate limit; try again after ``retry_after`` seconds."""

    status = 429
    default_code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.retry_after = retry_after


class ValidationFailed(TocsinError):
    """A field is missing or invalid."""

    status = 422
    default_code = "validation_error"


def from_pydantic(errors: list[Any], prefix: str = "") -> ValidationFailed:
    """Build a :class:`ValidationFailed` naming each bad field (dotted, camelCase as sent)."""
    details = []
    for err in errors:
        # Unions put the member's name in the location (the kind of a notification,
        # "date"/"datetime", "function-after[...]"): keep only the field path.
        loc = [str(p) for p in err.get("loc", ()) if not _is_union_tag(p)]
        field = ".".join(([prefix] if prefix else []) + loc) or prefix or "body"
        details.append({"field": field, "message": err.get("msg", "invalid")})
    first = details[0] if details else {"field": prefix or "body", "message": "invalid"}
    return ValidationFailed(
        f"{first['field']}: {first['message']}", field=first["field"], details=details
    )


_KIND_TAGS = {"email-received", "dossier-updated", "deadline-alert", "system-notification"}
_TYPE_TAGS = {"date", "datetime", "str", "int", "float", "bool", "list", "dict", "none"}


def _is_union_tag(part: object) -> bool:
    return isinstance(part, str) and (part in _KIND_TAGS or part in _TYPE_TAGS or "[" in part)
