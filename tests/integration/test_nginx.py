"""deploy/nginx.conf, and the README's snippet, in front of Tocsin on a port that is not 80
or 443: a page's cookie-authenticated socket connects over long-polling and over WebSocket,
and its inbox writes go through (issue 16, item 4). The configs are the shipped ones with
only their addresses changed; with ``$host`` (which drops the port) Tocsin refuses the page's
Origin."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import socketio

from tests.conftest import make_settings
from tests.forge import AUTH_SECRET, authjs_token, claims
from tests.helpers import ServerThread, listening_socket, require_service, stop_process

ROOT = Path(__file__).resolve().parents[2]
DEPLOYED = ROOT / "deploy" / "nginx.conf"
README = ROOT / "README.md"
USER, TENANT = "camille", "cabinet"


def nginx_binary() -> str:
    """Debian's nginx (``apt-get install nginx-light``); skips (or fails) without it."""
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None
    )
    if found is None:
        require_service("nginx", "no nginx binary (apt-get install nginx-light)")
        raise AssertionError("unreachable")
    return found


def deployed_site(*, listen: int, tocsin: int, app: int, host: str = "$http_host") -> str:
    """deploy/nginx.conf on these ports: its addresses, and nothing else, replaced (and,
    for the old config, ``Host $host``)."""
    config = DEPLOYED.read_text()
    for old, new in (
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{listen};"),
        ("server tocsin-1:8000;", f"server 127.0.0.1:{tocsin};"),
        ("server tocsin-2:8000;", f"server 127.0.0.1:{tocsin};"),
        ("server app:3000;", f"server 127.0.0.1:{app};"),
    ):
        assert config.count(old) == 1, f"deploy/nginx.conf no longer has {old!r}"
        config = config.replace(old, new)
    assert "proxy_set_header Host $http_host;" in config
    return config.replace("proxy_set_header Host $http_host;", f"proxy_set_header Host {host};")


def readme_site(*, listen: int, tocsin: int, app: int) -> str:
    """The README's nginx snippet (its first ``nginx`` block) in a server on these ports."""
    block = README.read_text().split("```nginx\n", 1)[1].split("```", 1)[0]
    assert block.count("http://127.0.0.1:8000;") == 2, block
    block = block.replace("http://127.0.0.1:8000;", f"http://127.0.0.1:{tocsin};")
    return f"server {{\n    listen 127.0.0.1:{listen};\n{block}}}\n"


SITES = {
    "deploy": deployed_site,
    "readme": readme_site,
    "deploy-with-old-host": functools.partial(deployed_site, host="$host"),
}


class Nginx:
    """nginx in the foreground, one process, everything under ``workdir``."""

    def __init__(self, binary: str, workdir: Path, site: str) -> None:
        workdir.mkdir(exist_ok=True)
        (workdir / "site.conf").write_text(site)
        temp = " ".join(
            f"{kind}_temp_path {workdir / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (workdir / "nginx.conf").write_text(
            f"daemon off;\nmaster_process off;\npid {workdir / 'nginx.pid'};\n"
            f"error_log {workdir / 'error.log'} warn;\n"
            "events { worker_connections 256; }\n"
            f"http {{ access_log off; {temp} include {workdir / 'site.conf'}; }}\n"
        )
        self.workdir = workdir
        log = workdir / "error.log"
        log.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [binary, "-p", str(workdir), "-c", str(workdir / "nginx.conf"), "-e", str(log)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )

    def errors(self) -> str:
        path = self.workdir / "error.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def close(self) -> None:
        stop_process(self.process, timeout=10)


def free_port() -> int:
    """A port free a moment ago (nginx binds it itself: a start that finds it taken is
    tried again on another)."""
    with contextlib.closing(listening_socket()) as probe:
        return int(probe.getsockname()[1])


@pytest.fixture
def tocsin(sqlite_url: str) -> Iterator[ServerThread]:
    """A node that reads the app's Auth.js session cookie."""
    node = ServerThread(make_settings(sqlite_url, auth_secret=AUTH_SECRET))
    node.start()
    try:
        yield node
    finally:
        node.close()


@pytest.fixture(params=list(SITES))
async def proxy(
    request: pytest.FixtureRequest, tocsin: ServerThread, tmp_path: Path
) -> AsyncIterator[tuple[str, bool]]:
    """nginx with deploy/nginx.conf, or the README's snippet, in front of ``tocsin``: its
    URL, and whether the config is a shipped one (the other has the old ``Host $host``)."""
    binary = nginx_binary()
    site = SITES[request.param]
    shipped = request.param != "deploy-with-old-host"
    for _attempt in range(5):
        port = free_port()
        config = site(listen=port, tocsin=tocsin.port, app=free_port())
        nginx = Nginx(binary, tmp_path / "nginx", config)
        url = f"http://127.0.0.1:{port}"
        if await _serving(nginx, url):
            break
        nginx.close()
        assert "Address already in use" in nginx.errors(), nginx.errors()
    else:
        raise AssertionError("nginx found its port taken five times")
    try:
        yield url, shipped
    finally:
        nginx.close()


def browser_headers(url: str) -> dict[str, str]:
    """What a page of the app's own origin sends: its Origin and the session cookie."""
    session = authjs_token(claims(id=USER, tenantId=TENANT))
    return {"Origin": url, "Cookie": f"authjs.session-token={session}"}


async def _serving(nginx: Nginx, url: str) -> bool:
    """Wait until nginx answers, through to Tocsin; False if it exited (a port taken)."""
    deadline = time.monotonic() + 20
    async with httpx.AsyncClient(timeout=2) as http:
        while nginx.process.poll() is None:
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(f"{url}/api/v1/inbox/unread-count")).status_code == 401:
                    return True  # nginx is up, and reaches Tocsin
            assert time.monotonic() < deadline, nginx.errors()
            await asyncio.sleep(0.05)
    return False


@pytest.mark.parametrize("transports", [["polling"], ["websocket"], ["polling", "websocket"]])
async def test_a_page_connects_through_nginx_on_another_port(
    proxy: tuple[str, bool], transports: list[str]
) -> None:
    url, shipped = proxy
    client = socketio.AsyncClient(reconnection=False)
    try:
        if shipped:
            await client.connect(
                url, headers=browser_headers(url), transports=transports, wait_timeout=10
            )
            assert client.connected
            assert client.transport() == transports[-1]
        else:
            with pytest.raises(socketio.exceptions.ConnectionError):
                await client.connect(
                    url, headers=browser_headers(url), transports=transports, wait_timeout=10
                )
    finally:
        await client.disconnect()


async def test_a_pages_inbox_write_goes_through_nginx(proxy: tuple[str, bool]) -> None:
    url, shipped = proxy
    headers = {**browser_headers(url), "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        response = await http.post("/api/v1/inbox/read-all", headers=headers, content="{}")
    assert response.status_code == (200 if shipped else 403), response.text


async def test_why_the_old_config_is_refused(proxy: tuple[str, bool]) -> None:
    """The page's Origin against the Host Tocsin is given: a poll, and a WebSocket."""
    url, shipped = proxy
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        poll = await http.get("/socket.io/?EIO=4&transport=polling", headers={"Origin": url})
        upgrade = await http.get(
            "/socket.io/?EIO=4&transport=websocket",
            headers={
                "Origin": url,
                "Connection": "Upgrade",
                "Upgrade": "websocket",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            },
        )
    if shipped:
        assert (poll.status_code, upgrade.status_code) == (200, 101)
    else:
        assert poll.status_code == 400 and "not an accepted origin" in poll.text, poll.text
        assert upgrade.status_code == 403
