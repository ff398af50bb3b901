"""Reading the audit log (DESIGN §9): pages of entries, as JSON or CSV, for a tenant's key
(its own tenant) or the admin key (any tenant, or all).

The log is append-only: the use cases that act (``act``, API key creation and revocation,
preference and tenant setting changes, erasures) append their entry in their own
transaction, and nothing changes or deletes one. Pages follow the log's insertion order;
the cursor is opaque to clients (it wraps the last row's position).
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tocsin.auth.apikeys import Publisher
from tocsin.errors import Forbidden, ValidationFailed
from tocsin.models import iso_timestamp, utc_moment
from tocsin.store.base import AuditEntry, Store

DEFAULT_PAGE = 100
MAX_PAGE = 1000
CSV_COLUMNS = ("at", "tenantId", "actor", "action", "target", "detail")
# Spreadsheets run a cell that starts with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_CURSOR_PREFIX = "audit:"


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """What a caller may read: one tenant (None: every tenant) in a time window, after a
    position, ``limit`` entries at most."""

    tenant_id: str | None
    since: datetime | None
    until: datetime | None
    after: int | None
    limit: int


@dataclass(frozen=True, slots=True)
class AuditPage:
    """Entries, oldest first; ``next_cursor`` is None on the last page."""

    entries: list[AuditEntry]
    next_cursor: str | None

    def to_json(self) -> dict[str, Any]:
        """``{entries: [{at, tenantId, actor, action, target, detail}], nextCursor}``."""
        return {"entries": [entry_json(e) for e in self.entries], "nextCursor": self.next_cursor}

    def to_csv(self) -> str:
        """The entries as CSV (a header row, ``detail`` as JSON), safe to open in a
        spreadsheet: no cell is taken for a formula."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for entry in self.entries:
            row = entry_json(entry)
            row["detail"] = json.dumps(row["detail"], ensure_ascii=False, sort_keys=True)
            writer.writerow([csv_cell(row[column]) for column in CSV_COLUMNS])
        return out.getvalue()


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    """One entry as the API shows it."""
    return {
        "at": iso_timestamp(entry.at),
        "tenantId": entry.tenant_id,
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "detail": entry.detail,
    }


def csv_cell(value: Any) -> str:
    """A CSV cell that a spreadsheet shows as text: one starting with ``= + - @`` (or a tab
    or carriage return) gets a leading ``'``; None is empty."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def encode_cursor(pk: int) -> str:
    """The opaque cursor of the page after the entry at ``pk``."""
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{pk}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The position an audit cursor stands for.

    Raises:
        ValidationFailed: not a cursor this API gave (``field: "cursor"``).
    """
    invalid = ValidationFailed("cursor: not a cursor of this API", field="cursor")
    if len(cursor) > 64:
        raise invalid
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise invalid from None
    digits = text.removeprefix(_CURSOR_PREFIX)
    if not text.startswith(_CURSOR_PREFIX) or not digits.isdigit() or len(digits) > 18:
        raise invalid
    return int(digits)


def parse_time(value: str | None, field: str) -> datetime | None:
    """An ISO 8601 time (``2026-03-01T08:00:00Z``; a date is its midnight UTC), or None.

    Raises:
        ValidationFailed: not such a time (the message names ``field``).
    """
    if value is None or value == "":
        return None
    try:
        return utc_moment(datetime.fromisoformat(value.strip()))
    except (ValueError, OverflowError):
        raise ValidationFailed(
            f"{field}: must be an ISO 8601 time, e.g. 2026-03-01T08:00:00Z", field=field
        ) from None


def parse_query(
    publisher: Publisher,
    *,
    tenant_id: str | None,
    since: str | None,
    until: str | None,
    cursor: str | None,
    limit: int | None,
) -> AuditQuery:
    """Check what the caller asks for against what its key may read.

    A tenant's key reads its own tenant (naming another is refused); the admin key reads
    the tenant it names, or every tenant.

    Raises:
        ValidationFailed: a parameter is malformed (``field`` names it).
        Forbidden: a tenant's key asked for another tenant.
    """
    if tenant_id is not None and (not tenant_id or len(tenant_id) > 200 or "\x00" in tenant_id):
        raise ValidationFailed("tenantId: must be a tenant id", field="tenantId")
    if not publisher.is_admin:
        if tenant_id is not None and tenant_id != publisher.tenant_id:
            raise Forbidden(
                f"this key reads only the audit log of tenant {publisher.tenant_id!r}",
                field="tenantId",
            )
        tenant_id = publisher.tenant_id
    size = DEFAULT_PAGE if limit is None else limit
    if not 1 <= size <= MAX_PAGE:
        raise ValidationFailed(f"limit: must be 1..{MAX_PAGE}", field="limit")
    start, end = parse_time(since, "since"), parse_time(until, "until")
    if start is not None and end is not None and end <= start:
        raise ValidationFailed("until: must be after since", field="until")
    after = None if cursor is None or cursor == "" else decode_cursor(cursor)
    return AuditQuery(tenant_id, start, end, after, size)


async def audit_page(store: Store, query: AuditQuery) -> AuditPage:
    """One page of the log, oldest first, with the cursor of the next if there is one."""
    rows = await store.list_audit(
        query.tenant_id,
        since=query.since,
        until=query.until,
        after=query.after,
        limit=query.limit + 1,
    )
    entries = rows[: query.limit]
    more = len(rows) > query.limit and entries[-1].pk is not None
    last = entries[-1].pk if more else None
    return AuditPage(entries, None if last is None else encode_cursor(last))
