"""Issue 15, finding 10 (parts): security headers, sids out of the access log.

The page at ``/`` had no CSP, ``X-Content-Type-Options`` or ``frame-ancestors``; uvicorn's
access log printed Engine.IO ``sid=`` values (enough to poll someone's session).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import httpx
import pytest
from uvicorn.logging import AccessFormatter

from tests.helpers import ADMIN_KEY, ServerThread, email, publish
from tocsin.logredact import ACCESS_LOGGER, RedactSid, redact_sid


def directives(policy: str) -> dict[str, str]:
    """``"a x; b y"`` → ``{"a": "x", "b": "y"}``."""
    pairs = (part.strip().partition(" ") for part in policy.split(";") if part.strip())
    return {name: value for name, _, value in pairs}


@pytest.mark.attack(
    title="Page without CSP, nosniff, frame-ancestors (finding 10)",
    tried="GET / and its headers",
    times=1,
)
async def test_the_page_sends_its_policy_and_may_not_be_framed(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    page = await http.get("/")
    assert page.status_code in (200, 503)  # 503: the page is not built (make web)
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    policy = directives(page.headers["content-security-policy"])
    host = f"127.0.0.1:{server.port}"
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["connect-src"].split() == ["'self'", f"ws://{host}", f"wss://{host}"]
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'none'"


async def test_a_host_that_is_not_plain_is_left_out_of_the_policy(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    page = await http.get("/", headers={"Host": "evil; script-src *"})
    policy = directives(page.headers["content-security-policy"])
    assert policy["connect-src"] == "'self'" and policy["script-src"] == "'self'"


async def test_every_api_response_is_nosniff(server: ServerThread, http: httpx.AsyncClient) -> None:
    published = await publish(http, email("alice", "firm-a"))
    responses = [
        published,
        await http.get("/healthz"),
        await http.get("/api/v1/inbox"),  # 401
        await http.get("/no/such/route"),  # 404
        await http.get("/assets/app.js"),  # the page's script, or 404 when not built
        await http.get("/docs"),
    ]
    for response in responses:
        assert response.headers.get("x-content-type-options") == "nosniff", response.url
    assert published.status_code == 202
    assert "x-frame-options" not in published.headers
    assert "content-security-policy" not in published.headers


async def test_the_api_docs_may_not_be_framed_and_load_only_their_own_scripts(
    server: ServerThread, http: httpx.AsyncClient
) -> None:
    docs = await http.get("/docs")
    assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
    assert docs.headers["x-frame-options"] == "DENY"
    # Swagger UI is served from the package (it came from a CDN): the page's whole policy.
    policy = docs.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
    assert "script-src 'self'" in policy and "https:" not in policy


def test_the_filter_redacts_sids_in_uvicorns_access_line() -> None:
    path = "/socket.io/?EIO=4&transport=polling&sid=Zm9vYmFyMTIzNDU2Nzg5MA&t=1"
    record = logging.LogRecord(
        ACCESS_LOGGER, logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", path, "1.1", 200), None,
    )  # fmt: skip
    assert RedactSid().filter(record)
    line = AccessFormatter("%(request_line)s %(status_code)s", use_colors=False).format(record)
    assert "Zm9vYmFy" not in line
    assert line == "GET /socket.io/?EIO=4&transport=polling&sid=REDACTED&t=1 HTTP/1.1 200 OK"
    assert redact_sid("/socket.io/?sid=abc") == "/socket.io/?sid=REDACTED"
    assert redact_sid("/x?side=1&presid=2") == "/x?side=1&presid=2"


class _Lines(logging.Handler):
    """Keeps formatted access lines; ``seen`` is set once one mentions ``needle``."""

    def __init__(self, needle: str) -> None:
        super().__init__(logging.INFO)
        self.needle = needle
        self.lines: list[str] = []
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        line = record.getMessage()
        self.lines.append(line)
        if self.needle in line:
            self.seen.set()


@pytest.fixture
def access_lines() -> Iterator[_Lines]:
    """The real ``uvicorn.access`` logger at INFO, with a handler that keeps its lines."""
    logger = logging.getLogger(ACCESS_LOGGER)
    level = logger.level
    handler = _Lines("transport=polling&sid=")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.mark.attack(
    title="Engine.IO sids in the access log (finding 10)",
    tried="a polling request with `sid=`; the access log line read",
    times=1,
)
async def test_a_served_polling_request_logs_no_sid(
    server: ServerThread, http: httpx.AsyncClient, access_lines: _Lines
) -> None:
    logger = logging.getLogger(ACCESS_LOGGER)
    # Installed by uvicorn from tocsin.serving.uvicorn_options, as for `tocsin serve`.
    assert any(isinstance(f, RedactSid) for f in logger.filters)
    opened = await http.get("/socket.io/", params={"EIO": "4", "transport": "polling"})
    sid = opened.text.split('"sid":"')[1].split('"')[0]
    sent = await http.post(
        "/socket.io/",
        params={"EIO": "4", "transport": "polling", "sid": sid},
        content=b"40",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert sent.status_code == 200
    assert access_lines.seen.wait(10), access_lines.lines
    polling = [line for line in access_lines.lines if "transport=polling&sid=" in line]
    assert polling and all(sid not in line for line in access_lines.lines)
    assert "sid=REDACTED" in polling[0]
