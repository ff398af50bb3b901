"""Who an incoming message is for: a mailbox's route, or its recipients' routes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tocsin.ingest.config import WILDCARD, MailboxConfig, Route


def _candidates(address: str) -> list[str]:
    """``a+tag@d`` is also tried as ``a@d``, then the domain's ``@d`` entry."""
    local, _, domain = address.partition("@")
    keys = [address]
    if "+" in local:
        keys.append(f"{local.split('+', 1)[0]}@{domain}")
    keys.append(f"@{domain}")
    return keys


def _unique(routes: Iterable[Route]) -> list[Route]:
    return list(dict.fromkeys(routes))


def route_recipients(table: dict[str, Route], recipients: Sequence[str]) -> list[Route]:
    """The routes of the recipients found in ``table`` (by address, ``+tag`` or ``@domain``)."""
    found: list[Route] = []
    for address in recipients:
        for key in _candidates(address):
            if key in table:
                found.append(table[key])
                break
    return _unique(found)


def mailbox_routes(mailbox: MailboxConfig, recipients: Sequence[str]) -> list[Route]:
    """Where a message read from ``mailbox`` goes (``*`` when no recipient is listed)."""
    if isinstance(mailbox.routing, Route):
        return [mailbox.routing]
    found = route_recipients(mailbox.routing, recipients)
    if not found and WILDCARD in mailbox.routing:
        return [mailbox.routing[WILDCARD]]
    return found


class InboundRouter:
    """Routes webhook mail by recipient, with the tables of every configured mailbox.

    A whole-mailbox route answers for the mailbox's own address; ``*`` entries are not
    used (across mailboxes, nothing says which one a stray recipient belongs to).
    """

    def __init__(self, mailboxes: Sequence[MailboxConfig]) -> None:
        self.table: dict[str, list[tuple[Route, MailboxConfig]]] = {}
        for mailbox in mailboxes:
            if isinstance(mailbox.routing, Route):
                if mailbox.own_address:
                    entry = (mailbox.routing, mailbox)
                    self.table.setdefault(mailbox.own_address, []).append(entry)
                continue
            for key, route in mailbox.routing.items():
                if key != WILDCARD:
                    self.table.setdefault(key, []).append((route, mailbox))

    def resolve(self, recipients: Sequence[str]) -> tuple[list[Route], MailboxConfig | None]:
        """The routes of every recipient that a mailbox lists, and the first such mailbox."""
        found: list[tuple[Route, MailboxConfig]] = []
        for address in recipients:
            for key in _candidates(address):
                if key in self.table:
                    found.extend(self.table[key])
                    break
        return _unique(r for r, _ in found), (found[0][1] if found else None)
