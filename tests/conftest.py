from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.cluster import RedisProcess
from tests.helpers import ADMIN_KEY, JWT_SECRET, PG_ADMIN_URL, ServerThread, require_service
from tests.reliability import results as reliability_results
from tocsin.config import Settings

_OWN_PREFIXES = ("TOCSIN_", "NEXTAUTH_", "AUTH_SECRET", "WEBSOCKET_")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings from the developer's shell never leak into a test."""
    for name in list(os.environ):
        if name.startswith(_OWN_PREFIXES) and name != "TOCSIN_REQUIRE_SERVICES":
            monkeypatch.delenv(name)


def make_settings(database_url: str, **extra: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "jwt_secret": JWT_SECRET,
        "admin_key": ADMIN_KEY,
        "clients_count_debounce": 0.05,
        "log_level": "warning",
        # These servers run inside pytest's process: freezing would freeze pytest's objects.
        "gc_freeze": False,
        "gc_full_interval": 0,
    }
    values.update(extra)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'tocsin.db'}"


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    return make_settings(sqlite_url)


@pytest.fixture
def server(settings: Settings) -> Iterator[ServerThread]:
    node = ServerThread(settings)
    node.start()
    try:
        yield node
    finally:
        node.close()


@pytest.fixture
async def http(server: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        yield client


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"tocsin_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        require_service("PostgreSQL", f"cannot connect to {PG_ADMIN_URL}: {exc}")
        raise AssertionError("unreachable") from exc
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    if request.param == "sqlite":
        return sqlite_url
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """A Redis server of the test's own (the cluster and chaos tests kill and restart it)."""
    server = RedisProcess(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# Outcomes of the tests marked ``attack`` in this session, by test function: a
# parametrised attack is one row of the Security section, its tries added up.
_ATTACKS: dict[str, tuple[int, bool]] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """A test marked ``attack`` leaves its outcome (and the figures it recorded with
    ``record_property``) for the Security section of RELIABILITY.md."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    marker = item.get_closest_marker("attack")
    if marker is None or report.skipped or (report.when != "call" and report.passed):
        return
    function = getattr(item, "originalname", item.name)
    tries, passed = _ATTACKS.get(function, (0, True))
    tries += int(marker.kwargs.get("times", 1))
    passed = passed and report.passed
    _ATTACKS[function] = (tries, passed)
    node_id = item.nodeid.split("[", 1)[0]
    reliability_results.Result(
        key=f"security-{function}",
        title=marker.kwargs.get("title") or (marker.args[0] if marker.args else function),
        tried=marker.kwargs.get("tried") or (marker.args[1] if len(marker.args) > 1 else ""),
        times=tries,
        command=reliability_results.pytest_command(node_id),
        passed=passed,
        details=dict(item.user_properties),
    ).write()
