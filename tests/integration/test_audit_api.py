"""GET /api/v1/audit against a real node: what each key may read, paging, CSV, and API key
creation and revocation audited wherever they are made."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.helpers import ADMIN_KEY, ServerThread, create_api_key, tocsin_cli
from tocsin.bus.local import LocalBus
from tocsin.cli import cli_actor
from tocsin.service import NotificationService
from tocsin.store.base import AuditEntry
from tocsin.store.sql import SqlStore

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def store(server: ServerThread) -> AsyncIterator[SqlStore]:
    """A second handle on the node's database, to append entries as the use cases do."""
    handle = SqlStore(server.settings.database_url)
    await handle.open(migrate=False)
    try:
        yield handle
    finally:
        await handle.close()


async def new_key(server: ServerThread, store: SqlStore, tenant: str) -> str:
    """A tenant key made through the service layer, as any caller would (audited)."""
    service = NotificationService(server.settings, store, LocalBus())
    full, _record = await service.create_api_key(tenant, "test", actor="test")
    return full


async def add(store: SqlStore, count: int, tenant: str | None, **fields: Any) -> None:
    for i in range(count):
        values: dict[str, Any] = {
            "at": T0 + timedelta(minutes=i),
            "tenant_id": tenant,
            "actor": "user:alice",
            "action": "act",
            "target": f"{tenant}-{i}",
            "detail": {"i": i},
        }
        values.update(fields)
        await store.add_audit(AuditEntry(**values))


async def read_all(http: httpx.AsyncClient, key: str, **params: Any) -> list[dict[str, Any]]:
    """Every page, following nextCursor."""
    entries: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await http.get("/api/v1/audit", params=query, headers=bearer(key))
        assert response.status_code == 200, response.text
        body = response.json()
        entries += body["entries"]
        cursor = body["nextCursor"]
        if cursor is None:
            return entries
    raise AssertionError("paging never ended")


async def test_key_creation_and_revocation_are_audited(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    key = await create_api_key(server.settings, "firm-a")
    key_id = key.split("_")[1]
    await asyncio.to_thread(tocsin_cli, server.settings, "keys", "revoke", key_id)
    entries = await read_all(http, ADMIN_KEY)
    actor = cli_actor()
    assert [(e["action"], e["target"], e["tenantId"], e["actor"]) for e in entries] == [
        ("key.create", key_id, "firm-a", actor),
        ("key.revoke", key_id, "firm-a", actor),
    ]
    assert entries[0]["detail"] == {"name": ""}
    assert datetime.fromisoformat(entries[0]["at"]) <= datetime.fromisoformat(entries[1]["at"])
    # The firm's other key reads the same lines; the revoked key reads nothing any more.
    other = await create_api_key(server.settings, "firm-a")
    own = await read_all(http, other)
    assert [e["action"] for e in own] == ["key.create", "key.revoke", "key.create"]
    refused = await http.get("/api/v1/audit", headers=bearer(key))
    assert refused.status_code == 401


async def test_a_tenant_key_reads_its_own_tenant_only(
    server: ServerThread, http: httpx.AsyncClient, store: SqlStore
) -> None:
    key_a = await new_key(server, store, "firm-a")
    key_b = await new_key(server, store, "firm-b")
    await add(store, 3, "firm-a")
    await add(store, 2, "firm-b")
    await add(store, 1, None, action="retention.purge", actor="system")

    mine = await read_all(http, key_b)
    assert {e["tenantId"] for e in mine} == {"firm-b"}
    assert [e["target"] for e in mine if e["action"] == "act"] == ["firm-b-0", "firm-b-1"]
    assert await read_all(http, key_b, tenantId="firm-b") == mine

    refused = await http.get("/api/v1/audit", params={"tenantId": "firm-a"}, headers=bearer(key_b))
    assert refused.status_code == 403 and refused.json()["field"] == "tenantId"
    refused_csv = await http.get(
        "/api/v1/audit", params={"tenantId": "firm-a", "format": "csv"}, headers=bearer(key_b)
    )
    assert refused_csv.status_code == 403

    # The admin key: one tenant when it names one, else every entry (server's own too).
    only_a = await read_all(http, ADMIN_KEY, tenantId="firm-a")
    assert {e["tenantId"] for e in only_a} == {"firm-a"}
    assert len(only_a) == 4  # its key's creation and three acts
    everything = await read_all(http, ADMIN_KEY)
    assert {e["tenantId"] for e in everything} == {"firm-a", "firm-b", None}
    assert len(everything) == 2 + 3 + 2 + 1
    assert len(await read_all(http, key_a)) == 4

    assert (await http.get("/api/v1/audit")).status_code == 401


async def test_pages_window_and_bad_parameters(http: httpx.AsyncClient, store: SqlStore) -> None:
    await add(store, 25, "firm-a")
    pages: list[list[str]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"tenantId": "firm-a", "limit": 10}
        if cursor:
            params["cursor"] = cursor
        body = (await http.get("/api/v1/audit", params=params, headers=bearer(ADMIN_KEY))).json()
        pages.append([e["target"] for e in body["entries"]])
        cursor = body["nextCursor"]
        if cursor is None:
            break
        assert cursor.isascii() and not cursor.isdigit()  # opaque, not a row number
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [t for page in pages for t in page] == [f"firm-a-{i}" for i in range(25)]

    window = await read_all(
        http,
        ADMIN_KEY,
        since="2026-03-01T08:05:00Z",
        until="2026-03-01T10:10:00+02:00",  # 08:10 UTC
        limit=2,
    )
    assert [e["target"] for e in window] == [f"firm-a-{i}" for i in range(5, 10)]
    assert window[0]["at"] == "2026-03-01T08:05:00.000Z"

    for params, field in [
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "MTIz"}, "cursor"),  # base64 of "123", not one of ours
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-01"}, "until"),
        ({"since": "2026-03-02", "until": "2026-03-01"}, "until"),
        ({"format": "xml"}, "format"),
        ({"tenantId": "x" * 201}, "tenantId"),
    ]:
        response = await http.get("/api/v1/audit", params=params, headers=bearer(ADMIN_KEY))
        assert response.status_code == 422, (params, response.text)
        assert response.json()["field"] == field, (params, response.json())


async def test_csv_pages_and_cannot_run_formulas(http: httpx.AsyncClient, store: SqlStore) -> None:
    await add(store, 2, "firm-a")
    await add(
        store,
        1,
        "firm-a",
        actor='=HYPERLINK("http://evil")',
        target="+1+1",
        detail={"note": "-2"},
    )
    await add(store, 1, "firm-a", actor="@SUM(A1)", target="-3")
    by_param = await http.get(
        "/api/v1/audit", params={"format": "csv", "limit": 3}, headers=bearer(ADMIN_KEY)
    )
    assert by_param.status_code == 200
    assert by_param.headers["content-type"].startswith("text/csv")
    assert "attachment" in by_param.headers["content-disposition"]
    assert by_param.headers["cache-control"] == "no-store"
    rows = list(csv.reader(io.StringIO(by_param.text)))
    assert rows[0] == ["at", "tenantId", "actor", "action", "target", "detail"]
    assert [r[4] for r in rows[1:]] == ["firm-a-0", "firm-a-1", "'+1+1"]
    assert rows[3][2] == '\'=HYPERLINK("http://evil")'
    assert rows[1][0] == "2026-03-01T08:00:00.000Z" and rows[1][5] == '{"i": 0}'

    # The next page by its cursor header, asked for with Accept.
    by_accept = await http.get(
        "/api/v1/audit",
        params={"limit": 3, "cursor": by_param.headers["x-next-cursor"]},
        headers={**bearer(ADMIN_KEY), "Accept": "text/csv"},
    )
    last = list(csv.reader(io.StringIO(by_accept.text)))
    assert [(r[2], r[4]) for r in last[1:]] == [("'@SUM(A1)", "'-3")]
    assert "x-next-cursor" not in by_accept.headers
    # format=json wins over the header.
    as_json = await http.get(
        "/api/v1/audit",
        params={"format": "json"},
        headers={**bearer(ADMIN_KEY), "Accept": "text/csv"},
    )
    assert as_json.headers["content-type"] == "application/json"


async def test_no_route_changes_or_deletes_the_log(http: httpx.AsyncClient) -> None:
    schema = (await http.get("/openapi.json")).json()
    audit_paths = {path: set(ops) for path, ops in schema["paths"].items() if "audit" in path}
    assert audit_paths == {"/api/v1/audit": {"get"}}
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = await http.request(method, "/api/v1/audit", headers=bearer(ADMIN_KEY))
        assert response.status_code == 405, method
