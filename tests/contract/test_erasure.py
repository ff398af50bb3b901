"""Erasure (DESIGN §9), on every store backend (SQLite and PostgreSQL): after
``erase_user``, a scan of every column of text or JSON of every table finds the user's id
only in rows of the other tenant's same-named user, every row that went is one of the
user's, and every other row is exactly as it was (a colleague's, the other tenant's, the
firm's own notifications); the audit entry names the user only by the pseudonym.

The data is made through the service, as the API makes it, with transactions of two rows so
that every kind is erased in several batches.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import JSON, String, Text, select

from tests.conftest import make_settings
from tocsin import privacycases
from tocsin.auth.apikeys import Publisher
from tocsin.bus.local import LocalBus
from tocsin.errors import Forbidden, ValidationFailed
from tocsin.models import Identity
from tocsin.privacycases import pseudonym
from tocsin.serverkeys import server_key
from tocsin.service import NotificationService
from tocsin.store.base import AuditEntry, DeadlineRecord, Delivery, NewJob, identity_hash
from tocsin.store.sql import SqlStore
from tocsin.store.tables import metadata, outbox

# A non-ASCII id: JSON columns spell it escaped, and the scan must still find it.
USER = "erase-mé-7c1f"
ERASED = Identity("firm-e", USER)
KEY = server_key(make_settings("sqlite+aiosqlite:///unused.db"), "pseudonym")
COLLEAGUE = Identity("firm-e", "colleague-9b2d")
TWIN = Identity("firm-o", USER)  # the same user id in another firm
ADMIN = Publisher(tenant_id=None, key_id="admin")
OWN_NOTIFICATIONS = 5


def browser_keys() -> dict[str, str]:
    """A browser's subscription keys: a P-256 public point and a 16-byte secret."""
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    )
    return {"p256dh": b64url(point), "auth": b64url(os.urandom(16))}


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def email(identity: Identity, n: int, **extra: Any) -> dict[str, Any]:
    return {
        "event": "email-received",
        "id": f"mail-{identity.user_id}-{n}",
        "subject": f"Conclusions {n} pour {identity.user_id}",
        "from": "Greffe <greffe@tj.fr>",
        "dossierNumber": "D-2026-014",
        "userId": identity.user_id,
        "tenantId": identity.tenant_id,
        **extra,
    }


async def populate(service: NotificationService, who: Identity, shared: list[str]) -> None:
    """Everything a user can have: notifications of their own with every state, states of
    the firm's notifications, preferences, a profile, push subscriptions, delivery lines,
    jobs, a deadline, a digest position, a watermark and an acknowledgement."""
    store = service.store
    acts = [{"id": "acknowledge", "label": "Accuser réception"}]
    ids = [
        (await service.publish(email(who, n, actions=acts, critical=True), ADMIN)).id
        for n in range(OWN_NOTIFICATIONS)
    ]
    await service.mark_seen(who, ids[:1])
    await service.mark_read(who, ids[1:2])
    await service.archive(who, ids[2:3])
    await service.snooze(who, ids[3:4], (datetime.now(UTC) + timedelta(days=1)).isoformat())
    await service.act(who, ids[4], "acknowledge")
    await service.mark_read(who, shared)
    await service.archive(who, shared[:1])
    await service.set_preferences(who, {"events": {"email-received": {"push": False}}})
    await service.put_profile(
        ADMIN, who.tenant_id, who.user_id, {"email": "a@cabinet.fr", "locale": "fr"}
    )
    for n in range(3):
        await service.subscribe_push(
            who,
            {
                "endpoint": f"https://fcm.googleapis.com/fcm/send/{identity_hash(who)}-{n}",
                "keys": browser_keys(),
            },
        )
    cursors = [
        (await store.notification_by_id(i, who.tenant_id)).cursor  # type: ignore[union-attr]
        for i in ids
    ]
    now = datetime.now(UTC)
    await store.add_deliveries(
        [Delivery(c, who.tenant_id, who.user_id, "push", "sent", None, now) for c in cursors]
    )
    await store.enqueue_jobs(
        [
            NewJob(
                f"push:{c}:{identity_hash(who)}:critical",
                "push",
                now,
                {"cursor": c, "rule": "critical"},
                who.tenant_id,
                who.user_id,
            )
            for c in cursors
        ]
        + [NewJob(f"digest:{identity_hash(who)}:2026-05-04", "digest", now, {}, *_ids(who))]
    )
    for n in range(3):
        await store.put_deadline(
            DeadlineRecord(
                who.tenant_id,
                f"dl-{who.user_id}-{n}",
                who.user_id,
                "D-2026-014",
                "OQTF",
                date(2026, 6, 1),
                "2026-06-01",
                None,
                "open",
                None,
                now,
            )
        )
    # Rows the app wrote to the outbox for the user, not published yet (or failed).
    assert isinstance(store, SqlStore)
    async with store.engine.begin() as conn:
        await conn.execute(
            outbox.insert(),
            [
                {"tenant_id": who.tenant_id, "notification": email(who, 90), "key": None},
                {"tenant_id": None, "notification": email(who, 91), "key": f"k-{who.user_id}"},
            ],
        )
    await store.advance_progress(f"digest:{identity_hash(who)}", cursors[-1])
    await service.mark_all_read(who, cursors[0])
    await service.remember_email(who, {"email": "a@cabinet.fr"})


def _ids(who: Identity) -> tuple[str, str]:
    return who.tenant_id, who.user_id


def _frozen(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


async def snapshot(store: SqlStore) -> dict[str, set[tuple[Any, ...]]]:
    """Every row of every table, as hashable tuples."""
    rows: dict[str, set[tuple[Any, ...]]] = {}
    async with store.engine.connect() as conn:
        for table in metadata.sorted_tables:
            found = (await conn.execute(select(table))).all()
            rows[table.name] = {tuple(_frozen(v) for v in row) for row in found}
    return rows


def as_dict(table_name: str, row: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(metadata.tables[table_name].columns.keys(), row, strict=True))


def belongs_to_erased(table: str, row: dict[str, Any], own_cursors: set[int]) -> bool:
    """Whether a row is one an erasure must delete."""
    if table == "progress":
        return str(row["name"]).endswith(identity_hash(ERASED))
    if table == "tocsin_outbox":
        document = json.loads(row["notification"])
        return (document["tenantId"], document["userId"]) == _ids(ERASED)
    if (row.get("tenant_id"), row.get("user_id")) == _ids(ERASED):
        return True
    return table in ("notifications", "item_states", "deliveries", "jobs") and (
        row.get("cursor") in own_cursors
    )


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(privacycases, "ERASE_BATCH", 2)


@pytest.mark.usefixtures("small_batches")
async def test_erasure_leaves_nothing_of_the_user_and_touches_nothing_else(
    store: SqlStore,
) -> None:
    service = NotificationService(make_settings(store.url), store, LocalBus())
    shared = {}
    for tenant in ("firm-e", "firm-o"):
        body = {
            "event": "system-notification",
            "title": "Fermeture",
            "message": "Le 14 juillet",
            "type": "info",
        }
        shared[tenant] = [
            (await service.publish({**body, "tenantId": tenant}, ADMIN)).id for _ in range(3)
        ]
    everyone = (
        await service.publish(
            {"event": "system-notification", "title": "M", "message": "v", "type": "info"}, ADMIN
        )
    ).id
    for who in (ERASED, COLLEAGUE, TWIN):
        await populate(service, who, [*shared[who.tenant_id], everyone])
    # An entry of the firm whose detail names the user, and one of the other firm's.
    for tenant in ("firm-e", "firm-o"):
        await store.add_audit(
            AuditEntry(
                datetime.now(UTC), tenant, "key:k1", "note", None, {"about": [USER, "x"], "n": 1}
            )
        )
    before = await snapshot(store)
    own_cursors = {
        row[1]
        for row in before["notifications"]
        if as_dict("notifications", row)["user_id"] == USER
        and as_dict("notifications", row)["tenant_id"] == "firm-e"
    }
    assert len(own_cursors) == OWN_NOTIFICATIONS

    counts = await service.erase_user(ADMIN, "firm-e", USER)

    after = await snapshot(store)
    # 1. Every text and JSON column of every table: the id (and the hash that names the
    # user in job keys) is left only in the twin's rows; the pseudonym is that hash's whole.
    hashed = identity_hash(ERASED)

    def names_user(value: Any) -> bool:
        text = str(value).replace(pseudonym(ERASED, KEY), "")
        return USER in text or hashed in text

    for table in metadata.sorted_tables:
        texts = [c.name for c in table.columns if isinstance(c.type, String | Text | JSON)]
        assert texts, table.name
        for row in after[table.name]:
            values = as_dict(table.name, row)
            found = [n for n in texts if values[n] is not None and names_user(values[n])]
            if found:
                owner = values.get("tenant_id")
                if table.name == "tocsin_outbox" and owner is None:
                    owner = json.loads(values["notification"])["tenantId"]
                assert owner == "firm-o", (table.name, found, values)
    # 2. What went is exactly the user's; everything else is as it was, but the audit log.
    for table in metadata.sorted_tables:
        name = table.name
        gone = before[name] - after[name]
        expected_gone = {
            r for r in before[name] if belongs_to_erased(name, as_dict(name, r), own_cursors)
        }
        if name == "audit_log":
            continue
        assert gone == expected_gone, name
        assert after[name] - before[name] == set(), name

    # 3. The counts say what went.
    def went(table: str) -> int:
        return len(before[table] - after[table])

    assert counts == {
        "notifications": OWN_NOTIFICATIONS,
        "states": went("item_states"),
        "deliveries": went("deliveries"),
        "jobs": went("jobs"),
        "preferences": 1,
        "profiles": 1,
        "pushSubscriptions": 3,
        "deadlines": 3,
        "watermarks": 2,  # user_state and the digest's position
        "auditEntriesPseudonymised": 2,  # the acknowledgement and the note
        "outboxRows": 2,
    }
    assert went("tocsin_outbox") == 2
    assert went("item_states") == OWN_NOTIFICATIONS + 4  # + the firm's three and everyone's
    assert went("jobs") == OWN_NOTIFICATIONS + 2  # + the snooze wake-up and the digest
    # 4. The audit log: one entry more; the user's own entries now name the pseudonym; the
    # other firm's, naming the same id, are untouched.
    entries = {as_dict("audit_log", r)["pk"]: as_dict("audit_log", r) for r in after["audit_log"]}
    earlier = {as_dict("audit_log", r)["pk"]: as_dict("audit_log", r) for r in before["audit_log"]}
    assert set(entries) == set(earlier) | {max(entries)}
    erasure = entries[max(entries)]
    assert USER not in json.dumps(erasure, default=str, ensure_ascii=False)
    assert (erasure["action"], erasure["target"]) == ("user.erase", pseudonym(ERASED, KEY))
    # Keyed: hashing a candidate id without the server's key does not find the user.
    plain = hashlib.sha256(f"{ERASED.tenant_id}\0{ERASED.user_id}".encode()).hexdigest()
    assert KEY is not None and erasure["target"] != f"erased:{plain}"
    assert json.loads(erasure["detail"]) == {"erased": counts}
    changed = {pk for pk in earlier if entries[pk] != earlier[pk]}
    assert len(changed) == 2
    for pk in changed:
        assert entries[pk]["tenant_id"] == "firm-e"
        assert pseudonym(ERASED, KEY) in json.dumps(entries[pk], default=str)
    twin_entries = [e for e in entries.values() if e["tenant_id"] == "firm-o"]
    assert any(e["actor"] == f"user:{USER}" for e in twin_entries)
    # 5. What the service remembered of the user is gone too.
    assert ("firm-e", USER) not in service._emails_seen
    assert ("firm-o", USER) in service._emails_seen


async def test_erasure_refuses_what_it_must_not_touch(store: SqlStore) -> None:
    service = NotificationService(make_settings(store.url), store, LocalBus())
    await store.put_preferences("firm-e", "", {"events": {}}, None)
    # "" holds the firm's defaults: not a user.
    with pytest.raises(ValidationFailed) as refused:
        await service.erase_user(ADMIN, "firm-e", "")
    assert refused.value.field == "userId"
    assert await store.get_preferences("firm-e", "") == {"events": {}}
    with pytest.raises(Forbidden):
        await service.erase_user(Publisher("firm-o", "k2"), "firm-e", USER)
