"""The README's "Try it" runs as written: its blocks are taken from README.md and executed.

Each block of the section is marked by an HTML comment just before its fence:
``<!-- try-it: shell-1 -->`` (the server), ``<!-- try-it: file clients/js/try.mjs -->`` (the
Node client, saved where the README says), ``<!-- try-it: shell-2 -->`` (runs the client),
``<!-- try-it: shell-3 -->`` (the publisher). Every fenced block of the section must be marked.

They run in a fresh directory laid out as the checkout (its entries symlinked, so ``make run``,
``.venv`` and ``clients/js/node_modules`` are the checkout's own, while ``.env``, ``tocsin.db``
and ``try.mjs`` land in the directory), each shell in ``bash`` as a person would paste it. One
thing is changed, the port: ``127.0.0.1:8000`` becomes ``127.0.0.1:<a free port>`` in every
block, and the first shell gets ``TOCSIN_PORT=<that port>`` (``make run`` takes no port
argument). The checkout must already be set up (``.venv`` and ``clients/js/node_modules`` up to
date): otherwise ``make run`` would reinstall them from the directory. A stale page is rebuilt
into the checkout, as ``make run`` does there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.helpers import listening_socket, require_service

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MARKED_BLOCK = re.compile(
    r"^<!-- try-it: (?P<name>[^>]+?) -->\n```(?P<lang>\w+)\n(?P<body>.*?)^```$", re.M | re.S
)
FENCE = re.compile(r"^```\w*$", re.M)
README_ADDRESS = "127.0.0.1:8000"
JS_MODULES = "clients/js/node_modules"
# Files the directory must not share with the checkout: what the blocks write.
OWN_FILES = {".env", "tocsin.db", "tocsin.db-wal", "tocsin.db-shm", ".git"}


def try_it_section() -> str:
    """The text of README.md's "## Try it" section."""
    text = README.read_text()
    start = text.index("\n## Try it\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def try_it_blocks() -> dict[str, str]:
    """The marked blocks of the section, by name (``shell-1``, ``file clients/js/try.mjs``…).

    Raises:
        AssertionError: a fenced block of the section is not marked.
    """
    section = try_it_section()
    blocks = {m["name"]: m["body"] for m in MARKED_BLOCK.finditer(section)}
    fences = len(FENCE.findall(section)) // 2
    assert fences == len(blocks), f"{fences} blocks in Try it, {len(blocks)} marked: {list(blocks)}"
    return blocks


def mirror(source: Path, target: Path, keep_real: tuple[str, ...] = ()) -> None:
    """Make ``target`` a directory whose entries are symlinks to ``source``'s, except the
    path ``keep_real`` (e.g. ``("clients", "js")``), made of real directories all the way down."""
    target.mkdir(exist_ok=True)
    for entry in source.iterdir():
        if entry.name in OWN_FILES:
            continue
        if keep_real and entry.name == keep_real[0]:
            mirror(entry, target / entry.name, keep_real[1:])
        else:
            (target / entry.name).symlink_to(entry)


def terminal_env() -> dict[str, str]:
    """The environment of a person's terminal: none of Tocsin's settings, nor those of a
    ``make`` this test may run under."""
    own = ("TOCSIN_", "AUTH_", "NEXTAUTH_", "WEBSOCKET_", "MAKE", "MFLAGS")
    return {name: value for name, value in os.environ.items() if not name.startswith(own)}


def checkout_ready() -> None:
    """Skip (or fail in CI) unless the checkout is set up and the tools the blocks call exist."""
    for tool in ("node", "make", "curl", "openssl"):
        if shutil.which(tool) is None:
            require_service(tool, f"`{tool}` is not on PATH")
    stale = subprocess.run(
        ["make", "-q", "-C", str(ROOT), ".venv/bin/tocsin", f"{JS_MODULES}/.package-lock.json"],
        capture_output=True,
        env=terminal_env(),
    )
    if stale.returncode != 0:
        require_service(
            "a set-up checkout",
            "`.venv` or clients/js/node_modules is older than pyproject.toml / package-lock.json: "
            "run `make run` (or `make test`) once first",
        )
    if not (ROOT / JS_MODULES / "socket.io-client").is_dir():
        require_service("socket.io-client", "clients/js/node_modules lacks it: run `make web`")


@dataclass
class Shell:
    """A block run by ``bash`` in its own process group, its output read line by line."""

    name: str
    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    reader: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, name: str, script: str, cwd: Path, env: dict[str, str]) -> Shell:
        process = await asyncio.create_subprocess_exec(
            "bash",
            "-c",
            script,
            cwd=cwd,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        shell = cls(name, process)
        shell.reader = asyncio.create_task(shell._read())
        return shell

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))
            self.changed.set()
        self.changed.set()

    def output(self) -> str:
        return "\n".join(self.lines[-40:])

    async def wait_line(self, check: Callable[[str], bool], within: float) -> str:
        """The first line that passes ``check``; fails with the output on timeout or exit."""

        async def loop() -> str:
            while True:
                found = next((line for line in self.lines if check(line)), None)
                if found is not None:
                    return found
                if self.reader is not None and self.reader.done():
                    raise AssertionError(f"{self.name} ended:\n{self.output()}")
                self.changed.clear()
                await self.changed.wait()

        try:
            return await asyncio.wait_for(loop(), within)
        except TimeoutError:
            raise AssertionError(
                f"{self.name}: nothing after {within}s:\n{self.output()}"
            ) from None

    async def finished(self, within: float) -> int:
        try:
            code = await asyncio.wait_for(self.process.wait(), within)
        except TimeoutError:
            raise AssertionError(
                f"{self.name} still running after {within}s:\n{self.output()}"
            ) from None
        if self.reader is not None:
            await self.reader
        return code

    async def stop(self) -> None:
        """End the block's process group (the shell and what it started: make, tocsin, node)."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                await self.process.wait()
        if self.reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.reader, 5)


@pytest.fixture
async def shells() -> AsyncIterator[list[Shell]]:
    started: list[Shell] = []
    try:
        yield started
    finally:
        for shell in reversed(started):
            await shell.stop()


def free_port() -> int:
    with listening_socket() as sock:
        port: int = sock.getsockname()[1]
    return port


async def wait_healthy(url: str, server: Shell, within: float) -> None:
    """Wait until ``url/healthz`` answers 200 (``make run`` may first build the page)."""
    async with httpx.AsyncClient(timeout=2) as http:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            if server.process.returncode is not None:
                raise AssertionError(f"the server's shell ended:\n{server.output()}")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(f"{url}/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise AssertionError(f"no /healthz after {within}s:\n{server.output()}")


def test_every_block_of_try_it_is_marked() -> None:
    blocks = try_it_blocks()
    assert list(blocks) == ["shell-1", "file clients/js/try.mjs", "shell-2", "shell-3"]
    # The port is the one thing the run changes: where the client and curl name the server.
    assert (
        README_ADDRESS in blocks["file clients/js/try.mjs"] and README_ADDRESS in blocks["shell-3"]
    )


async def test_try_it_runs_as_written(tmp_path: Path, shells: list[Shell]) -> None:
    checkout_ready()
    port = free_port()
    address = f"127.0.0.1:{port}"
    blocks = {name: body.replace(README_ADDRESS, address) for name, body in try_it_blocks().items()}
    workdir = tmp_path / "tocsin"
    mirror(ROOT, workdir, keep_real=("clients", "js"))
    client_file = workdir / "clients/js/try.mjs"
    client_file.unlink(missing_ok=True)  # a link to the checkout's own try.mjs, if it has one
    client_file.write_text(blocks["file clients/js/try.mjs"])
    env = terminal_env()

    server = await Shell.start(
        "shell-1", blocks["shell-1"], workdir, {**env, "TOCSIN_PORT": str(port)}
    )
    shells.append(server)
    await wait_healthy(f"http://{address}", server, within=180)
    assert (workdir / ".env").read_text().startswith("export TOCSIN_JWT_SECRET=")

    client = await Shell.start("shell-2", blocks["shell-2"], workdir, env)
    shells.append(client)
    await client.wait_line(lambda line: line == "connected", within=60)

    publisher = await Shell.start("shell-3", blocks["shell-3"], workdir, env)
    shells.append(publisher)
    assert await publisher.finished(within=60) == 0, publisher.output()
    answer = publisher.lines[-1]
    body, _, status = answer.rpartition(" ")
    assert status == "202", publisher.output()
    published = json.loads(body)
    # The id's value is Tocsin's business (its own id, the publisher's as sourceId).
    assert isinstance(published["id"], str) and published["id"], published
    assert isinstance(published["cursor"], int), published

    received = await client.wait_line(lambda line: line.startswith("email-received:"), within=30)
    assert received == "email-received: Conclusions adverses from Greffe <greffe@tj.fr>"
    marked = await client.wait_line(lambda line: line.startswith("mark-read: "), within=30)
    ack = json.loads(marked.removeprefix("mark-read: "))
    assert ack["ok"] is True and len(ack["ids"]) == 1 and ack["unreadCount"] == 0, marked
