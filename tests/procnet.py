"""Which process holds a TCP connection, read from Linux /proc: tests that SIGKILL the node
whose request waits at a door (tests/pushdoor.py, tests/smtpdoor.py) find it by the
request's source port, and tell a node's requests from the others' by its ports."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def _tcp_sockets() -> list[tuple[int, int, str]]:
    """Every IPv4 TCP socket of the machine: local port, remote port, inode link name."""
    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = (int(address.split(":")[1], 16) for address in fields[1:3])
        found.append((local, remote, f"socket:[{fields[9]}]"))
    return found


def _sockets_of(pid: int) -> set[str]:
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):  # closed while listed
            held.add(os.readlink(fd))
    return held


def socket_owner(port: int, pids: list[int]) -> int | None:
    """Which of ``pids`` holds the TCP socket bound to local ``port`` (Linux /proc)."""
    inodes = {inode for local, _, inode in _tcp_sockets() if local == port}
    return next((pid for pid in pids if _sockets_of(pid) & inodes), None)


def ports_towards(pid: int, remote: int) -> frozenset[int]:
    """The local ports of process ``pid``'s TCP connections to port ``remote``."""
    mine = _sockets_of(pid)
    return frozenset(local for local, to, inode in _tcp_sockets() if to == remote and inode in mine)
