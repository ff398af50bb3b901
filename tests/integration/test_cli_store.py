"""CLI commands that use the store: they say which database, never make a stray one, and
the README's commands work as written against a running server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.helpers import ServerThread, email, publish, token
from tocsin.config import Settings


def tocsin(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`tocsin args` run in ``cwd`` as a user types it: no --database-url unless given."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TOCSIN_")}
    return subprocess.run(
        [sys.executable, "-m", "tocsin", *args],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "command",
    [
        ["keys", "create", "--tenant", "firm-a"],
        ["send", "system-notification", "--tenant", "firm-a", "title=T", "message=M"],
        ["migrate"],
    ],
)
def test_a_store_command_makes_no_new_default_database(tmp_path: Path, command: list[str]) -> None:
    result = tocsin(tmp_path, *command)
    assert result.returncode == 2, result.stderr
    assert not (tmp_path / "tocsin.db").exists()
    said = result.stderr
    assert f"tocsin: database sqlite+aiosqlite:///{tmp_path}/tocsin.db (the default" in said
    assert f"no database at {tmp_path}/tocsin.db" in said
    assert "--database-url" in said and "TOCSIN_DATABASE_URL" in said
    assert "Traceback" not in said and result.stdout == ""


def test_the_refusal_points_at_the_servers_database(tmp_path: Path) -> None:
    server_db = tmp_path / "tocsin.db"
    made = tocsin(tmp_path, "migrate", "--database-url", f"sqlite:///{server_db}")
    assert made.returncode == 0, made.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = tocsin(elsewhere, "keys", "create", "--tenant", "firm-a")
    assert result.returncode == 2
    # Found above the current directory (the checkout of the running .venv comes first).
    probably = next(line for line in result.stderr.splitlines() if "probably" in line)
    assert str(server_db) in probably and "--database-url sqlite:///" in probably
    assert not (elsewhere / "tocsin.db").exists()


def test_a_named_database_is_created_and_said(tmp_path: Path) -> None:
    by_variable = tocsin(
        tmp_path, "keys", "create", "--tenant", "t", TOCSIN_DATABASE_URL="sqlite:///named.db"
    )
    assert by_variable.returncode == 0, by_variable.stderr
    assert by_variable.stdout.startswith("tsk_")
    where = f"sqlite+aiosqlite:///{tmp_path}/named.db"
    assert f"tocsin: database {where} (TOCSIN_DATABASE_URL)" in by_variable.stderr
    by_flag = tocsin(tmp_path, "keys", "list", "--database-url", "sqlite:///named.db")
    assert f"tocsin: database {where} (--database-url)" in by_flag.stderr
    header, row = by_flag.stdout.splitlines()
    assert header.split("\t") == ["KEY ID", "TENANT", "STATE", "CREATED", "NAME"]
    assert row.split("\t")[1:3] == ["t", "active"]


def test_checkconfig_creates_no_database(tmp_path: Path) -> None:
    result = tocsin(tmp_path, "checkconfig")
    assert f"{tmp_path}/tocsin.db does not exist yet" in result.stdout
    assert not (tmp_path / "tocsin.db").exists()


async def test_keys_create_beside_the_server_makes_a_key_it_accepts(
    server: ServerThread, http: httpx.AsyncClient, settings: Settings
) -> None:
    # The server's database is <tmp>/tocsin.db: the default one of that directory.
    home = Path(settings.database_url.split(":///", 1)[1]).parent
    elsewhere = tocsin(home.parent, "keys", "create", "--tenant", "firm-a")
    assert elsewhere.returncode == 2 and not (home.parent / "tocsin.db").exists()
    created = tocsin(home, "keys", "create", "--tenant", "firm-a")
    assert created.returncode == 0, created.stderr
    accepted = await publish(http, email("alice", "firm-a"), key=created.stdout.strip())
    assert accepted.status_code == 202, accepted.text


async def test_send_as_the_readme_writes_it_reaches_the_inbox(
    server: ServerThread, http: httpx.AsyncClient, settings: Settings
) -> None:
    home = Path(settings.database_url.split(":///", 1)[1]).parent
    sent = tocsin(
        home,
        "send",
        "email-received",
        "--tenant",
        "firm-a",
        "--user",
        "alice",
        "subject=Conclusions adverses",
        "from=Greffe <greffe@tj.fr>",
        "dossierNumber=D-2026-014",
    )
    assert sent.returncode == 0, sent.stderr
    headers = {"Authorization": f"Bearer {token('alice', 'firm-a')}"}
    (item,) = (await http.get("/api/v1/inbox", headers=headers)).json()["items"]
    assert (item["subject"], item["from"]) == ("Conclusions adverses", "Greffe <greffe@tj.fr>")
    assert item["dossierNumber"] == "D-2026-014"
