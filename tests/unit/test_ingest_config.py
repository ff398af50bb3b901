"""The mailboxes file (TOCSIN_MAILBOXES_FILE) and recipient routing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tocsin.config import ConfigError, load_settings
from tocsin.ingest.config import MailboxConfig, Route, load_mailboxes, parse_mailboxes
from tocsin.ingest.routing import InboundRouter, mailbox_routes

ALICE = {"tenantId": "firm-a", "userId": "alice"}
BOB = {"tenantId": "firm-a", "userId": "bob"}

TOML = """
[[mailboxes]]
name = "greffe"
host = "imap.example.com"
user = "greffe@cabinet.example"
password_file = "SECRET"
routing = { tenantId = "firm-a", userId = "alice" }

[[mailboxes]]
name = "shared"
host = "imap.example.com"
port = 1143
tls = false
user = "shared"
password_env = "SHARED_IMAP_PASSWORD"
folder = "Dossiers/Entrants"
dossier_pattern = 'RG (\\d{2}/\\d{5})'

[mailboxes.routing]
"Alice@Cabinet.example" = { tenantId = "firm-a", userId = "alice" }
"*" = { tenantId = "firm-a", userId = "bob" }
"""


def mailbox() -> dict[str, Any]:
    return {"name": "m", "host": "imap.example", "user": "u", "password": "p", "routing": ALICE}


def test_toml_with_every_password_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-file\n")
    path = tmp_path / "mailboxes.toml"
    path.write_text(TOML.replace("SECRET", str(secret)))
    monkeypatch.setenv("SHARED_IMAP_PASSWORD", "from-env")

    greffe, shared = load_mailboxes(path)

    assert greffe.resolve_password() == "from-file"
    assert (greffe.imap_port, greffe.folder, greffe.own_address) == (
        993,
        "INBOX",
        "greffe@cabinet.example",
    )
    assert shared.resolve_password() == "from-env" and shared.imap_port == 1143
    assert isinstance(shared.routing, dict) and "alice@cabinet.example" in shared.routing
    assert shared.pattern.search("RG 24/01234") is not None
    assert "from-env" not in repr(shared) and "'p'" not in repr(MailboxConfig(**mailbox()))


def test_json_list_or_object(tmp_path: Path) -> None:
    for content in ([mailbox()], {"mailboxes": [mailbox()]}):
        path = tmp_path / "mailboxes.json"
        path.write_text(json.dumps(content))
        [only] = load_mailboxes(path)
        assert only.routing == Route(tenantId="firm-a", userId="alice")


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("{not json", "mailboxes.json"),
        (json.dumps({"name": "m"}), "expected a list of mailboxes"),
        (json.dumps([{**mailbox(), "password": None}]), "exactly one of password"),
        (json.dumps([{**mailbox(), "password_env": "NOPE_NOT_SET"}]), "exactly one of"),
        (json.dumps([{**mailbox(), "dossier_pattern": "(["}]), "dossier_pattern"),
        (json.dumps([{**mailbox(), "prot": 1}]), "prot"),
        (json.dumps([{**mailbox(), "routing": {"alice": ALICE}}]), "'alice'"),
        (json.dumps([{**mailbox(), "routing": {"tenantId": "firm-a"}}]), "routing"),
        (json.dumps([mailbox(), mailbox()]), "unique: m"),
        (json.dumps([{**mailbox(), "name": "a b"}]), "name"),
    ],
)
def test_a_bad_file_names_the_variable_and_the_fault(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, complaint: str
) -> None:
    path = tmp_path / "mailboxes.json"
    path.write_text(content)
    monkeypatch.setenv("TOCSIN_MAILBOXES_FILE", str(path))
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert str(raised.value).startswith("TOCSIN_MAILBOXES_FILE")
    assert complaint in str(raised.value)


def test_a_missing_password_variable_or_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="NOPE_NOT_SET is not set"):
        parse_mailboxes([{**mailbox(), "password": None, "password_env": "NOPE_NOT_SET"}])
    with pytest.raises(ValueError, match="cannot read"):
        parse_mailboxes([{**mailbox(), "password": None, "password_file": str(tmp_path / "x")}])


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"TOCSIN_MAILBOXES_FILE: cannot read .*nowhere"):
        load_settings(mailboxes_file=str(tmp_path / "nowhere.json"))


def test_routing_only_entries_need_no_server() -> None:
    [entry] = parse_mailboxes([{"name": "hook", "routing": {"a@x.example": ALICE}}])
    assert entry.host is None


def test_mailbox_routes() -> None:
    [whole, table] = parse_mailboxes(
        [
            {"name": "w", "routing": ALICE},
            {"name": "t", "routing": {"alice@x.example": ALICE, "@y.example": BOB, "*": BOB}},
        ]
    )
    alice, bob = Route(**ALICE), Route(**BOB)
    assert mailbox_routes(whole, ["anyone@z.example"]) == [alice]
    assert mailbox_routes(table, ["alice+greffe@x.example"]) == [alice]
    assert mailbox_routes(table, ["alice@x.example", "carol@y.example"]) == [alice, bob]
    assert mailbox_routes(table, ["stranger@z.example"]) == [bob]
    assert mailbox_routes(table, []) == [bob]


def test_inbound_routing_uses_addresses_and_ignores_wildcards() -> None:
    mailboxes = parse_mailboxes(
        [
            {"name": "w", "address": "Greffe@Firm.example", "routing": ALICE},
            {"name": "t", "routing": {"bob@x.example": BOB, "*": ALICE}},
        ]
    )
    router = InboundRouter(mailboxes)
    routes, first = router.resolve(["greffe@firm.example", "bob@x.example"])
    assert routes == [Route(**ALICE), Route(**BOB)] and first is mailboxes[0]
    assert router.resolve(["stranger@z.example"]) == ([], None)
