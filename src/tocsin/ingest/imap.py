"""IMAP mailbox watchers: each new message becomes an ``email-received`` notification.

One task per watched mailbox: connect, log in, SELECT the folder, publish what arrived after
the stored position (UIDVALIDITY + last UID), then wait — IDLE when the server offers it, a
poll otherwise — and start over. A lost connection is retried with exponential backoff. A
message that cannot be made into a notification is logged, counted and skipped, whatever
went wrong with it (:class:`~tocsin.jobs.BatchJob`): the messages after it go on; one that
cannot even be fetched is skipped after a few sessions died on it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aioimaplib  # type: ignore[import-untyped]

from tocsin import metrics
from tocsin.auth.apikeys import Publisher
from tocsin.errors import TocsinError
from tocsin.ingest.config import MailboxConfig, load_mailboxes
from tocsin.ingest.parse import MalformedMessage
from tocsin.ingest.publish import Outcome, count, outcome_of, publish_mail
from tocsin.ingest.routing import mailbox_routes
from tocsin.ingest.worker import parse_off_loop
from tocsin.jobs import BatchJob, ItemFailed
from tocsin.service import NotificationService
from tocsin.store.base import MailboxPosition

log = logging.getLogger("tocsin.ingest")

COMMAND_TIMEOUT = 30.0
RECONNECT_MIN = 1.0
RECONNECT_MAX = 60.0
MAX_FETCH_ATTEMPTS = 3
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


class ImapError(Exception):
    """The server refused a command, or answered something the watcher cannot use."""


@dataclass(frozen=True, slots=True)
class Selected:
    """What SELECT said about the folder."""

    uidvalidity: int
    uidnext: int | None
    exists: int


def _lines(response: Any) -> list[bytes]:
    return [bytes(line) for line in response.lines if isinstance(line, bytes | bytearray)]


def _check(response: Any, what: str) -> Any:
    if response.result != "OK":
        text = b" ".join(_lines(response)).decode("utf-8", "replace")[:300]
        raise ImapError(f"{what} refused: {response.result} {text}")
    return response


def parse_select(lines: Sequence[bytes]) -> Selected:
    """UIDVALIDITY, UIDNEXT and EXISTS from a SELECT response.

    Raises:
        ImapError: no UIDVALIDITY (positions could not be trusted).
    """
    text = b"\n".join(lines)
    validity = re.search(rb"\[UIDVALIDITY (\d+)\]", text)
    if validity is None:
        raise ImapError("SELECT gave no UIDVALIDITY")
    uidnext = re.search(rb"\[UIDNEXT (\d+)\]", text)
    exists = re.search(rb"^(\d+) EXISTS", text, re.MULTILINE)
    return Selected(
        int(validity.group(1)),
        int(uidnext.group(1)) if uidnext else None,
        int(exists.group(1)) if exists else 0,
    )


def parse_search(lines: Sequence[bytes]) -> list[int]:
    """The numbers of an (UID) SEARCH response, ascending."""
    found: set[int] = set()
    for line in lines[:-1]:
        if re.fullmatch(rb"[\d ]*", line):
            found.update(int(n) for n in line.split())
    return sorted(found)


def imap_date(moment: datetime) -> str:
    """``01-Jan-2026``, as SEARCH SINCE wants it (independent of the locale)."""
    return f"{moment.day:02d}-{_MONTHS[moment.month - 1]}-{moment.year}"


class MailboxWatcher:
    """Watches one mailbox until cancelled."""

    def __init__(self, service: NotificationService, mailbox: MailboxConfig) -> None:
        self.service = service
        self.mailbox = mailbox
        self.name = mailbox.name
        self.publisher = Publisher(tenant_id=None, key_id=f"imap:{mailbox.name}")
        self._fetching: int | None = None
        self._attempts: dict[int, int] = {}
        self._selected = False
        self._job = BatchJob("imap", log)

    async def run(self) -> None:
        """Connect, watch, and reconnect with backoff for as long as the task lives."""
        delay = RECONNECT_MIN
        while True:
            self._selected = False
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                metrics.ERRORS.labels("imap").inc()
                if self._fetching is not None:
                    self._attempts[self._fetching] = self._attempts.get(self._fetching, 0) + 1
                if self._selected:
                    delay = RECONNECT_MIN
                log.warning(
                    "mailbox %s: %s: %s; reconnecting in %.1f s",
                    self.name,
                    type(exc).__name__,
                    exc,
                    delay,
                )
            finally:
                metrics.INGEST_CONNECTED.labels(self.name).set(0)
                self._fetching = None
            # Jitter keeps many nodes from reconnecting in step after a server restart.
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, RECONNECT_MAX)

    async def _session(self) -> None:
        lost = asyncio.Event()
        client = aioimaplib.IMAP4(
            host=self.mailbox.host,
            port=self.mailbox.imap_port,
            timeout=COMMAND_TIMEOUT,
            conn_lost_cb=lambda _exc: lost.set(),
            ssl_context=ssl.create_default_context() if self.mailbox.tls else None,
        )
        # aioimaplib leaves pending commands waiting forever when the server goes away:
        # the session races the connection's end.
        work = asyncio.create_task(self._watch(client))
        gone = asyncio.create_task(lost.wait())
        try:
            await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
            if work.done():
                work.result()
            raise ConnectionError("the server closed the connection")
        finally:
            # Also aioimaplib's own tasks (an IDLE in progress), or they outlive the session.
            pending = [work, gone, *client.tasks, *client.protocol.tasks]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            transport = getattr(client.protocol, "transport", None)
            if transport is not None:
                transport.close()

    async def _watch(self, client: Any) -> None:
        await client.wait_hello_from_server()
        try:
            password = self.mailbox.resolve_password()
        except ValueError as exc:
            raise ImapError(str(exc)) from None
        user = aioimaplib.quoted(self.mailbox.user)
        _check(await client.login(user, password), "LOGIN")
        folder = aioimaplib.quoted(self.mailbox.folder)
        selected = parse_select(_lines(_check(await client.select(folder), "SELECT")))
        last = await self._start_position(client, selected)
        self._selected = True
        metrics.INGEST_CONNECTED.labels(self.name).set(1)
        idle = self.mailbox.idle and client.has_capability("IDLE")
        log.info(
            "mailbox %s: watching %s on %s (%s), after UID %d",
            self.name,
            self.mailbox.folder,
            self.mailbox.host,
            "IDLE" if idle else f"polling every {self.mailbox.poll_interval:g} s",
            last,
        )
        while True:
            uids, changed = await self._new_uids(client, last)
            if uids:
                last = await self._process_all(client, selected.uidvalidity, uids, last)
            elif changed:
                continue
            elif idle:
                await self._idle(client)
            else:
                await asyncio.sleep(self.mailbox.poll_interval)

    async def _new_uids(self, client: Any, last: int) -> tuple[list[int], bool]:
        """UIDs after ``last``, and whether the server announced new mail meanwhile.

        A server announces mail that arrives during a command after that command's
        response, as an untagged EXISTS that aioimaplib drops unless a NOOP is pending;
        IDLE then does not announce it again. So the search is sent with a NOOP behind it
        (pipelined): the NOOP collects that EXISTS and the caller searches again.
        """
        search, noop = await asyncio.gather(
            client.uid_search("UID", f"{last + 1}:*", charset=None), client.noop()
        )
        uids = parse_search(_lines(_check(search, "SEARCH")))
        changed = any(re.match(rb"\d+ EXISTS", line) for line in _lines(_check(noop, "NOOP")))
        return [u for u in uids if u > last], changed

    async def _start_position(self, client: Any, selected: Selected) -> int:
        store = self.service.store
        position = await store.get_mailbox_position(self.name)
        if position is not None and position.uidvalidity == selected.uidvalidity:
            return position.last_uid
        if position is None:
            last = await self._first_position(client, selected)
        else:
            last = await self._rescan(client, selected)
        await store.set_mailbox_position(MailboxPosition(self.name, selected.uidvalidity, last))
        return last

    async def _first_position(self, client: Any, selected: Selected) -> int:
        """First start: only new mail, plus the last ``backfill`` messages already there."""
        backfill = self.mailbox.backfill
        if backfill == 0 and selected.uidnext is not None:
            return max(0, selected.uidnext - 1)
        uids = parse_search(_lines(_check(await client.uid_search("ALL", charset=None), "SEARCH")))
        if not uids:
            return 0
        return uids[-1] if backfill == 0 else uids[-backfill:][0] - 1

    async def _rescan(self, client: Any, selected: Selected) -> int:
        """UIDVALIDITY changed: old UIDs mean nothing, so read recent mail again.

        Ids come from the Message-ID, so what was already published is not published
        twice; only the last ``rescan_days`` are read, so old mail never published (before
        the watcher's first start) does not flood the inbox.
        """
        since = datetime.now(UTC) - timedelta(days=self.mailbox.rescan_days)
        log.warning(
            "mailbox %s: UIDVALIDITY changed (now %d): re-reading mail since %s",
            self.name,
            selected.uidvalidity,
            imap_date(since),
        )
        response = await client.uid_search("SINCE", imap_date(since), charset=None)
        uids = parse_search(_lines(_check(response, "SEARCH")))
        last = await self._process_all(client, selected.uidvalidity, uids, 0)
        return max(last, (selected.uidnext or 1) - 1)

    async def _process_all(
        self, client: Any, uidvalidity: int, uids: Sequence[int], last: int
    ) -> int:
        for uid in uids:
            await self._process(client, uid)
            last = max(last, uid)
            await self.service.store.set_mailbox_position(
                MailboxPosition(self.name, uidvalidity, last)
            )
        return last

    async def _process(self, client: Any, uid: int) -> None:
        if self._attempts.get(uid, 0) >= MAX_FETCH_ATTEMPTS:
            log.error(
                "mailbox %s: UID %d could not be fetched %d times; skipped",
                self.name,
                uid,
                MAX_FETCH_ATTEMPTS,
            )
            count(self.name, Outcome.FAILED)
            self._attempts.pop(uid, None)
            return
        self._fetching = uid
        fetched = await self._fetch(client, uid)
        self._fetching = None
        self._attempts.pop(uid, None)
        if fetched is None:
            return  # expunged since the search
        raw, size = fetched
        # What follows the fetch is the message's own business: whatever goes wrong with
        # it (short of the store being down) must not stop the messages after it.
        outcome = await self._job.attempt(
            f"{self.name}:UID {uid}", lambda: self._ingest(uid, raw, size)
        )
        if isinstance(outcome, ItemFailed):
            count(self.name, Outcome.FAILED)

    async def _ingest(self, uid: int, raw: bytes, size: int) -> None:
        """Parse, route and publish one fetched message, counting what became of it."""
        try:
            mail = await parse_off_loop(
                raw,
                dossier_pattern=self.mailbox.pattern,
                max_bytes=self.mailbox.max_message_bytes,
                total_size=size,
            )
        except MalformedMessage as exc:
            log.warning("mailbox %s: UID %d skipped: %s", self.name, uid, exc)
            count(self.name, Outcome.MALFORMED)
            return
        routes = mailbox_routes(self.mailbox, mail.recipients)
        if not routes:
            log.warning(
                "mailbox %s: UID %d skipped: no route for recipients %s",
                self.name,
                uid,
                ", ".join(mail.recipients) or "(none)",
            )
            count(self.name, Outcome.UNROUTED)
            return
        results = await publish_mail(self.service, mail, routes, self.publisher)
        outcome = outcome_of(mail, results)
        for refused in (r for r in results if isinstance(r, TocsinError)):
            log.warning("mailbox %s: UID %d refused: %s", self.name, uid, refused.message)
        if mail.truncated:
            log.info(
                "mailbox %s: UID %d is %d bytes: read its first %d only",
                self.name,
                uid,
                size,
                self.mailbox.max_message_bytes,
            )
        count(self.name, outcome)

    async def _fetch(self, client: Any, uid: int) -> tuple[bytes, int] | None:
        """The message's first ``max_message_bytes`` (all of it, if smaller) and its size."""
        cap = self.mailbox.max_message_bytes
        what = f"(RFC822.SIZE BODY.PEEK[]<0.{cap}>)"
        response = _check(await client.uid("fetch", str(uid), what), "FETCH")
        sizes = [re.search(rb"RFC822\.SIZE (\d+)", line) for line in _lines(response)]
        size = next((int(m.group(1)) for m in sizes if m), None)
        literal = next((line for line in response.lines if isinstance(line, bytearray)), None)
        if size is None or literal is None:
            return None
        return bytes(literal[:cap]), size

    async def _idle(self, client: Any) -> None:
        """Wait in IDLE for new mail, or ``poll_interval`` (which also proves the link alive)."""
        queue = client.protocol.idle_queue
        while not queue.empty():
            queue.get_nowait()
        idle = await client.idle_start(timeout=self.mailbox.poll_interval)
        while True:
            push = await client.wait_server_push(
                timeout=self.mailbox.poll_interval + COMMAND_TIMEOUT
            )
            if push == aioimaplib.STOP_WAIT_SERVER_PUSH:
                break
            if any(
                b"EXISTS" in bytes(line) for line in push if isinstance(line, bytes | bytearray)
            ):
                break
        client.idle_done()
        _check(await asyncio.wait_for(idle, COMMAND_TIMEOUT), "IDLE")


class MailboxWatchers:
    """The running watchers of a node."""

    def __init__(self, watchers: Sequence[MailboxWatcher]) -> None:
        self.watchers = list(watchers)
        self._tasks = [
            asyncio.create_task(w.run(), name=f"tocsin-imap-{w.name}") for w in self.watchers
        ]

    async def stop(self) -> None:
        """Cancel every watcher and wait for them."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []


def start_mailbox_watchers(service: NotificationService) -> MailboxWatchers:
    """Start a watcher per mailbox of ``TOCSIN_MAILBOXES_FILE`` that has a host.

    Raises:
        ConfigError: the file cannot be read or is invalid.
    """
    path = service.settings.mailboxes_file
    mailboxes = load_mailboxes(path) if path else []
    watchers = [MailboxWatcher(service, m) for m in mailboxes if m.host]
    if watchers:
        log.info("e-mail ingestion: watching %s", ", ".join(w.name for w in watchers))
    return MailboxWatchers(watchers)


__all__ = ["ImapError", "MailboxWatcher", "MailboxWatchers", "start_mailbox_watchers"]
