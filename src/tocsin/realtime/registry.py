"""The sockets connected to this node, indexed by tenant and user."""

from __future__ import annotations

from dataclasses import dataclass, field

from tocsin.limits import TokenBucket
from tocsin.models import Audience, Identity, StoredNotification
from tocsin.realtime.eiosocket import EngineSocket


@dataclass(slots=True, eq=False)
class Connection:
    """One authenticated socket and its delivery position.

    Until ``live`` is set, live notifications wait in ``pending`` so that they reach the
    client after its replay, in cursor order; ``delivered`` is the highest cursor sent.
    ``transport`` is set once python-socketio has sent the socket's CONNECT.
    """

    sid: str
    identity: Identity
    delivered: int = 0
    # The client's ``since``: what it missed is replayed before it goes live.
    since: int | None = None
    live: bool = False
    pending: list[StoredNotification] = field(default_factory=list)
    transport: EngineSocket | None = None
    events: TokenBucket | None = None
    # Refusals spend these; a socket that runs out keeps flooding and is disconnected.
    strikes: TokenBucket | None = None


class Registry:
    """Who is connected here; recipients are found by verified identity, both ids."""

    def __init__(self) -> None:
        self.by_sid: dict[str, Connection] = {}
        self._by_tenant: dict[str, dict[str, Connection]] = {}
        self._by_user: dict[tuple[str, str], dict[str, Connection]] = {}

    def add(self, connection: Connection) -> None:
        """Register a socket."""
        ident = connection.identity
        self.by_sid[connection.sid] = connection
        self._by_tenant.setdefault(ident.tenant_id, {})[connection.sid] = connection
        self._by_user.setdefault((ident.tenant_id, ident.user_id), {})[connection.sid] = connection

    def remove(self, sid: str) -> Connection | None:
        """Forget a socket (no-op if unknown); returns it."""
        connection = self.by_sid.pop(sid, None)
        if connection is None:
            return None
        ident = connection.identity
        tenant = self._by_tenant.get(ident.tenant_id)
        if tenant is not None:
            tenant.pop(sid, None)
            if not tenant:
                del self._by_tenant[ident.tenant_id]
        key = (ident.tenant_id, ident.user_id)
        user = self._by_user.get(key)
        if user is not None:
            user.pop(sid, None)
            if not user:
                del self._by_user[key]
        return connection

    def tenant_count(self, tenant_id: str) -> int:
        """Sockets of one tenant connected here."""
        return len(self._by_tenant.get(tenant_id, ()))

    def tenants(self) -> list[str]:
        """The tenants with sockets connected here."""
        return list(self._by_tenant)

    def of_tenant(self, tenant_id: str) -> list[Connection]:
        """The sockets of one tenant (room ``tenant:<id>``)."""
        return list(self._by_tenant.get(tenant_id, {}).values())

    def of_user(self, tenant_id: str, user_id: str) -> list[Connection]:
        """The sockets of one identity."""
        return list(self._by_user.get((tenant_id, user_id), {}).values())

    def recipients(self, note: StoredNotification) -> list[Connection]:
        """Sockets allowed to receive ``note`` (a snapshot: safe while sockets come and go)."""
        if note.audience is Audience.ALL:
            return list(self.by_sid.values())
        if note.audience is Audience.TENANT and note.tenant_id is not None:
            return self.of_tenant(note.tenant_id)
        if note.tenant_id is not None and note.user_id is not None:
            return self.of_user(note.tenant_id, note.user_id)
        return []
