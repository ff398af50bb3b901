"""Drive ``client.mjs`` (a real Node ``socket.io-client``) from async tests."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.helpers import require_service

COMPAT_DIR = Path(__file__).resolve().parent
CLIENT_SCRIPT = COMPAT_DIR / "client.mjs"
NODE_MODULES = COMPAT_DIR / "node_modules"

Message = dict[str, Any]


def require_node_client() -> str:
    """The ``node`` executable; skips (or fails) the test when the client cannot run."""
    node = shutil.which("node")
    if node is None:
        require_service("Node socket.io-client", "`node` is not on PATH")
        raise AssertionError("unreachable")
    if not (NODE_MODULES / "socket.io-client").is_dir():
        require_service(
            "Node socket.io-client",
            f"{NODE_MODULES} is missing: run `npm ci --prefix tests/compat`",
        )
    return node


class NodeClient:
    """One ``node client.mjs`` process: its printed lines, and commands sent to it."""

    def __init__(
        self, node: str, url: str, auth: dict[str, Any], options: dict[str, Any] | None = None
    ) -> None:
        self.node = node
        self.url = url
        self.auth = auth
        self.options = options
        self.lines: list[Message] = []
        self.stderr: list[str] = []
        self._changed = asyncio.Event()
        self._ids = itertools.count(1)
        self._process: asyncio.subprocess.Process | None = None
        self._readers: list[asyncio.Task[None]] = []

    async def start(self) -> NodeClient:
        """Spawn the client; ``options`` (e.g. ``{"extraHeaders": {...}}``) go into ``io()``."""
        arguments = [str(CLIENT_SCRIPT), self.url, json.dumps(self.auth)]
        if self.options is not None:
            arguments.append(json.dumps(self.options))
        self._process = await asyncio.create_subprocess_exec(
            self.node,
            *arguments,
            cwd=COMPAT_DIR,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert self._process.stdout is not None and self._process.stderr is not None
        self._readers = [
            asyncio.create_task(self._read_stdout(self._process.stdout)),
            asyncio.create_task(self._read_stderr(self._process.stderr)),
        ]
        return self

    async def _read_stdout(self, stream: asyncio.StreamReader) -> None:
        async for raw in stream:
            line = raw.decode().strip()
            if line:
                try:
                    self.lines.append(json.loads(line))
                except json.JSONDecodeError:
                    self.lines.append({"type": "garbage", "line": line})
                self._changed.set()
        self._changed.set()

    async def _read_stderr(self, stream: asyncio.StreamReader) -> None:
        async for raw in stream:
            self.stderr.append(raw.decode().rstrip())

    @property
    def exited(self) -> bool:
        return self._process is None or self._process.returncode is not None

    def _describe(self) -> str:
        return f"lines: {self.lines[-10:]}; stderr: {self.stderr[-10:]}"

    async def wait_for(
        self, predicate: Callable[[list[Message]], bool], within: float = 10.0
    ) -> None:
        """Wait until ``predicate(self.lines)`` holds; on timeout, fail showing the output."""

        async def loop() -> None:
            while not predicate(self.lines):
                if self._readers and self._readers[0].done():
                    raise AssertionError(f"node client exited; {self._describe()}")
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(loop(), within)
        except TimeoutError:
            raise AssertionError(f"timed out after {within}s; {self._describe()}") from None

    async def wait_message(self, kind: str, within: float = 10.0) -> Message:
        """The first printed line of type ``kind``, waiting for it if needed."""
        await self.wait_for(lambda lines: any(m["type"] == kind for m in lines), within)
        return next(m for m in self.lines if m["type"] == kind)

    async def connected(self, within: float = 10.0) -> None:
        """Wait for ``connect``; fail at once on ``connect_error``."""
        await self.wait_for(
            lambda lines: any(m["type"] in ("connect", "connect_error") for m in lines), within
        )
        if any(m["type"] == "connect_error" for m in self.lines):
            raise AssertionError(f"connection refused; {self._describe()}")

    def events(self, name: str | None = None) -> list[Any]:
        """Payloads of the received events named ``name`` (all events' lines when ``None``)."""
        received = [m for m in self.lines if m["type"] == "event"]
        if name is None:
            return received
        return [m["data"] for m in received if m["event"] == name]

    def _send(self, command: Message) -> None:
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.write(json.dumps(command).encode() + b"\n")

    async def emit(self, event: str, data: Any = None, within: float = 15.0) -> Any:
        """Emit with an acknowledgement callback; return the server's ack payload."""
        request = next(self._ids)
        self._send({"cmd": "emit", "event": event, "data": data, "ack": True, "id": request})

        def answered(lines: list[Message]) -> bool:
            return any(
                m["type"] in ("ack", "ack_timeout") and m.get("id") == request for m in lines
            )

        await self.wait_for(answered, within)
        reply = next(
            m for m in self.lines if m["type"] in ("ack", "ack_timeout") and m.get("id") == request
        )
        if reply["type"] == "ack_timeout":
            raise AssertionError(f"no acknowledgement for {event!r}; {self._describe()}")
        return reply["data"]

    async def close(self, within: float = 10.0) -> None:
        """Ask the client to disconnect and exit; kill it if it does not."""
        process = self._process
        if process is None:
            return
        if process.returncode is None and process.stdin is not None:
            with contextlib.suppress(ConnectionError):
                self._send({"cmd": "close"})
                await process.stdin.drain()
                process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), within)
        except TimeoutError:
            process.kill()
            await process.wait()
        for reader in self._readers:
            with contextlib.suppress(Exception):
                await reader
        self._process = None
        if process.returncode != 0:
            raise AssertionError(
                f"node client exited with {process.returncode}; {self._describe()}"
            )
