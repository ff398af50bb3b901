"""The conformance server (one per test session, in-process, on a free port) and the table
of the official suites' cases printed at the end of the run (and written to
``test-artifacts/conformance/table.json``)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.conformance.cases import ALL_CASES, ENGINE_IO_PATH, SOCKET_IO_PATH, Case, case_of
from tests.conformance.server import create_app, settings
from tests.helpers import ServerThread
from tests.reliability.results import ROOT
from tocsin.realtime.eiosocket import EngineSocket
from tocsin.realtime.engine import EngineServer


@dataclass
class Conformance:
    """The running conformance server."""

    node: ServerThread

    @property
    def url(self) -> str:
        """Its base URL (``http://127.0.0.1:<port>``)."""
        return self.node.url

    def engine(self, path: str) -> EngineServer:
        """The Engine.IO server behind ``path`` (``/engine.io/`` or ``/socket.io/``)."""
        app = self.node.app
        # SocketIOApp's "engineio_server" is the Socket.IO server, over its Engine.IO one.
        server: EngineServer = (
            app.engineio_server.eio
            if path == SOCKET_IO_PATH
            else app.other_asgi_app.engineio_server
        )
        return server

    def socket(self, path: str, sid: str) -> EngineSocket | None:
        """The server's socket for session ``sid`` (white-box: to wait on its state)."""
        socket = self.engine(path).sockets.get(sid)
        return socket if isinstance(socket, EngineSocket) else None


@pytest.fixture(scope="session")
def conformance() -> Iterator[Conformance]:
    """The official suites' test application on Tocsin's transport, as ``tocsin serve``."""
    node = ServerThread(settings(), app_factory=create_app)
    node.start()
    try:
        yield Conformance(node)
    finally:
        node.close()


@pytest.fixture
async def http(conformance: Conformance) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the conformance server."""
    async with httpx.AsyncClient(base_url=conformance.url, timeout=10) as client:
        yield client


@pytest.fixture(params=[ENGINE_IO_PATH, SOCKET_IO_PATH], ids=["engine.io", "socket.io"])
def path(request: pytest.FixtureRequest) -> str:
    """The application under test: each suite's Engine.IO cases run against its own."""
    value: str = request.param
    return value


# -- the table ----------------------------------------------------------------------------

_COLLECTED: set[Case] = set()
_OUTCOMES: dict[Case, tuple[str, str]] = {}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "conformance(group, eio, sio): the official suites' case(s) a test covers"
    )


def pytest_itemcollected(item: pytest.Item) -> None:
    marker = item.get_closest_marker("conformance")
    if marker is None:
        return
    callspec = getattr(item, "callspec", None)
    path = callspec.params.get("path") if callspec is not None else None
    covered = case_of(path=path, **marker.kwargs)
    _COLLECTED.add(covered)
    item.user_properties.append(("conformance", covered))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    covered = dict(report.user_properties).get("conformance")
    if not isinstance(covered, Case) or not (report.when == "call" or report.outcome != "passed"):
        return
    xfail_reason = getattr(report, "wasxfail", None)
    if report.failed:
        strict_xpass = "XPASS(strict)" in str(report.longrepr)
        outcome = ("FAIL", "passed, but marked xfail(strict)" if strict_xpass else "")
    elif report.skipped:
        outcome = ("xfail", xfail_reason) if xfail_reason is not None else ("skip", "")
    elif xfail_reason is not None:
        outcome = ("pass", f"still marked xfail: {xfail_reason}")
    else:
        outcome = ("pass", "")
    if _OUTCOMES.get(covered, ("",))[0] != "FAIL":
        _OUTCOMES[covered] = outcome


def _outcome(case: Case) -> tuple[str, str]:
    if case not in _COLLECTED:
        return ("MISSING", "no test covers this case")
    return _OUTCOMES.get(case, ("not run", ""))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Every case of both official suites: pass, xfail (with the reason), FAIL."""
    if not _OUTCOMES:
        return
    write = terminalreporter.write_line
    terminalreporter.section("protocol conformance: the official suites' cases")
    rows = []
    for suite in ("Engine.IO", "Socket.IO"):
        cases = [c for c in ALL_CASES if c.suite == suite]
        outcomes = [_outcome(c) for c in cases]
        counts: dict[str, int] = {}
        for status, _reason in outcomes:
            counts[status] = counts.get(status, 0) + 1
        tally = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        write(f"{suite} suite: {len(cases)} cases ({tally})")
        for c, (status, reason) in zip(cases, outcomes, strict=True):
            write(f"  {status:<7} {c.name}" + (f"  [{reason}]" if reason else ""))
            rows.append({"suite": suite, "case": c.name, "outcome": status, "reason": reason})
    folder = ROOT / "test-artifacts" / "conformance"
    folder.mkdir(parents=True, exist_ok=True)
    table = {"recorded_at": datetime.now(UTC).isoformat(), "cases": rows}
    (folder / "table.json").write_text(json.dumps(table, indent=2) + "\n")
