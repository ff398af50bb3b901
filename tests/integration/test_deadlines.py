"""The deadline registry over HTTP, the check from cron and from the server, exactly once."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from tests.helpers import (
    ADMIN_KEY,
    NEW_STATE,
    TOCSIN_ID,
    Client,
    ServerThread,
    create_api_key,
    token,
)
from tocsin.config import Settings

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def body(due: str, **extra: object) -> dict[str, object]:
    return {
        "dossierNumber": "D-2026-014",
        "deadlineType": "OQTF",
        "dueAt": due,
        "userId": "alice",
        "tenantId": "firm-a",
        **extra,
    }


def check(settings: Settings, now: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tocsin",
            "deadlines",
            "check",
            "--now",
            now,
            "--database-url",
            settings.database_url,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def alerts_of(http: httpx.AsyncClient, user: str = "alice") -> list[dict[str, object]]:
    headers = {"Authorization": f"Bearer {token(user, 'firm-a')}"}
    page = await http.get("/api/v1/inbox?event=deadline-alert&limit=200", headers=headers)
    items: list[dict[str, object]] = page.json()["items"]
    return items


async def test_registry_over_http(server: ServerThread, http: httpx.AsyncClient) -> None:
    far = (date.today() + timedelta(days=40)).isoformat()
    created = await http.put("/api/v1/deadlines/d1", json=body(far), headers=ADMIN)
    assert created.status_code == 201, created.text
    assert created.json()["dueDate"] == far and created.json()["alerted"] == []
    replaced = await http.put(
        "/api/v1/deadlines/d1", json=body(far, status="closed"), headers=ADMIN
    )
    assert replaced.status_code == 200 and replaced.json()["status"] == "closed"
    await http.put("/api/v1/deadlines/d2", json=body("2030-01-01"), headers=ADMIN)
    listed = await http.get("/api/v1/deadlines?tenantId=firm-a", headers=ADMIN)
    assert [d["id"] for d in listed.json()["items"]] == ["d1", "d2"]
    window = await http.get(f"/api/v1/deadlines?dueFrom={far}&dueTo={far}", headers=ADMIN)
    assert [d["id"] for d in window.json()["items"]] == ["d1"]
    bad = await http.put("/api/v1/deadlines/d3", json=body("someday"), headers=ADMIN)
    assert bad.status_code == 422 and bad.json()["field"] == "dueAt"
    bad_zone = await http.put(
        "/api/v1/deadlines/d3", json=body(far, timezone="Mars/Base"), headers=ADMIN
    )
    assert bad_zone.status_code == 422 and bad_zone.json()["field"] == "timezone"
    assert (
        await http.delete("/api/v1/deadlines/d2?tenantId=firm-a", headers=ADMIN)
    ).status_code == 204
    gone = await http.delete("/api/v1/deadlines/d2?tenantId=firm-a", headers=ADMIN)
    assert gone.status_code == 404 and gone.json()["error"] == "not_found"
    assert (await http.get("/api/v1/deadlines")).status_code == 401


async def test_a_tenant_key_manages_only_its_tenant(
    server: ServerThread, http: httpx.AsyncClient, settings: Settings
) -> None:
    key = await create_api_key(settings, "firm-b")
    headers = {"Authorization": f"Bearer {key}"}
    refused = await http.put("/api/v1/deadlines/x", json=body("2030-01-01"), headers=headers)
    assert refused.status_code == 403 and refused.json()["field"] == "tenantId"
    own = body("2030-01-01")
    del own["tenantId"]
    assert (await http.put("/api/v1/deadlines/x", json=own, headers=headers)).status_code == 201
    await http.put("/api/v1/deadlines/y", json=body("2030-01-01"), headers=ADMIN)
    mine = await http.get("/api/v1/deadlines", headers=headers)
    assert [(d["tenantId"], d["id"]) for d in mine.json()["items"]] == [("firm-b", "x")]
    peek = await http.get("/api/v1/deadlines?tenantId=firm-a", headers=headers)
    assert peek.status_code == 403


async def test_an_imminent_deadline_alerts_its_user_live(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    client = Client(server.url, "alice", "firm-a")
    await client.connect()
    try:
        # Tomorrow where the deadline's days are counted (between 23:00 and 00:00 UTC the
        # machine's date is already "today" in Paris).
        tomorrow = (datetime.now(ZoneInfo("Europe/Paris")) + timedelta(days=1)).date().isoformat()
        response = await http.put("/api/v1/deadlines/oqtf-1", json=body(tomorrow), headers=ADMIN)
        assert response.status_code == 201 and len(response.json()["alerted"]) == 1
        [alert] = await client.wait_notifications(1)
        assert alert["urgency"] in {"critical", "urgent"}  # 1 day left in Europe/Paris
        assert set(alert) == {
            "id",
            "sourceId",
            "dossierNumber",
            "message",
            "urgency",
            "deadlineType",
            "remainingDays",
            "userId",
            "tenantId",
            "timestamp",
            "cursor",
            "read",
            *NEW_STATE,
        } | ({"actions"} if alert["urgency"] == "critical" else set())
        if alert["urgency"] == "critical":
            # « Accuser réception » on critical alerts (TOCSIN_DEADLINE_ACK).
            assert alert["actions"] == [
                {"id": "acknowledge", "label": "Accuser réception", "primary": True}
            ]
        assert alert["message"].startswith("Délai OQTF expire dans")
        # The alert's sourceId is the deadline's id; its id is Tocsin's own.
        assert alert["sourceId"] == "oqtf-1" and TOCSIN_ID.match(alert["id"])
    finally:
        await client.disconnect()


def paris_morning(day: date, hour: int = 9) -> str:
    """An explicit clock for `tocsin deadlines check --now` (Paris offset of that day)."""

    return datetime(day.year, day.month, day.day, hour, tzinfo=ZoneInfo("Europe/Paris")).isoformat()


async def test_exactly_one_alert_per_day_with_concurrent_checkers_moves_and_closing(
    server: ServerThread, http: httpx.AsyncClient, settings: Settings
) -> None:
    # Far enough ahead that the immediate check on PUT (real clock) says nothing.
    due = date.today() + timedelta(days=30)
    for i in range(5):
        await http.put(f"/api/v1/deadlines/c{i}", json=body(due.isoformat()), headers=ADMIN)
    assert await alerts_of(http) == []

    day_one = due - timedelta(days=2)
    # Two cron processes at the same moment, plus the server's own scheduler running.
    crons = [check(settings, paris_morning(day_one)) for _ in range(2)]
    outputs = await asyncio.gather(*(asyncio.to_thread(p.communicate, None, 60) for p in crons))
    assert all(p.returncode == 0 for p in crons), outputs
    reports = [json.loads(out) for out, _err in outputs]
    assert sorted(len(r["alerted"]) for r in reports) in ([0, 5], [1, 4], [2, 3])
    assert sum(len(r["alerted"]) for r in reports) == 5
    alerts = await alerts_of(http)
    assert len(alerts) == 5 and {a["remainingDays"] for a in alerts} == {2}
    assert {a["urgency"] for a in alerts} == {"urgent"}
    assert sorted(str(a["sourceId"]) for a in alerts) == [f"c{i}" for i in range(5)]

    # The same day again adds nothing; the next day adds one each.
    check(settings, paris_morning(day_one, 18)).communicate(timeout=60)
    assert len(await alerts_of(http)) == 5
    day_two = day_one + timedelta(days=1)
    check(settings, paris_morning(day_two)).communicate(timeout=60)
    alerts = await alerts_of(http)
    assert len(alerts) == 10
    assert sorted((str(a["sourceId"]), a["remainingDays"]) for a in alerts[:5]) == [
        (f"c{i}", 1) for i in range(5)
    ]

    # Moving a deadline re-evaluates it, even on a day it already alerted.
    moved = due + timedelta(days=1)
    await http.put("/api/v1/deadlines/c0", json=body(moved.isoformat()), headers=ADMIN)
    out, _ = check(settings, paris_morning(day_two, 12)).communicate(timeout=60)
    assert json.loads(out)["alerted"] == [f"deadline:c0:{moved}:{day_two}"]
    [newest, *earlier] = await alerts_of(http)
    assert (newest["sourceId"], newest["urgency"], newest["remainingDays"]) == ("c0", "urgent", 2)
    assert len(earlier) == 10
    seen = {newest["id"], *(a["id"] for a in earlier)}
    # Closing stops it; deleting too.
    await http.put(
        "/api/v1/deadlines/c1", json=body(due.isoformat(), status="closed"), headers=ADMIN
    )
    await http.delete("/api/v1/deadlines/c2?tenantId=firm-a", headers=ADMIN)
    out, _ = check(settings, paris_morning(due)).communicate(timeout=60)
    assert sorted(json.loads(out)["alerted"]) == [
        f"deadline:c0:{moved}:{due}",
        f"deadline:c3:{due}:{due}",
        f"deadline:c4:{due}:{due}",
    ]
    today = [a for a in await alerts_of(http) if a["id"] not in seen]
    assert sorted((str(a["sourceId"]), a["urgency"], a["remainingDays"]) for a in today) == [
        ("c0", "critical", 1),
        ("c3", "critical", 0),
        ("c4", "critical", 0),
    ]


async def test_sdk_manages_deadlines(server: ServerThread) -> None:
    from tocsin.sdk import AsyncTocsinClient, TocsinAPIError, TocsinClient

    async with AsyncTocsinClient(server.url, ADMIN_KEY) as client:
        created = await client.put_deadline("sdk/1", body("2031-05-02"))
        assert created["id"] == "sdk/1" and created["dueDate"] == "2031-05-02"
        listed = await client.list_deadlines("firm-a", due_from=date(2031, 5, 1))
        assert [d["id"] for d in listed] == ["sdk/1"]
        await client.delete_deadline("sdk/1", "firm-a")
        try:
            await client.delete_deadline("sdk/1", "firm-a")
        except TocsinAPIError as exc:
            assert exc.status == 404
        else:
            raise AssertionError("deleting twice must be a 404")

    def sync_round_trip() -> list[dict[str, object]]:
        with TocsinClient(server.url, ADMIN_KEY) as client:
            client.put_deadline("sdk-2", body("2031-06-01"))
            return client.list_deadlines("firm-a", status="open")

    assert [d["id"] for d in await asyncio.to_thread(sync_round_trip)] == ["sdk-2"]
