"""Session ids that name their worker: only the exact shape is read, as a number."""

from __future__ import annotations

import os

import pytest

from tocsin.realtime.engine import EngineServer
from tocsin.realtime.sessionids import WORKER_SOCKETS_ENV, owner_of, session_prefix, socket_path

TAIL = "Ab-_0123456789abcdeF"  # python-engineio's 20 characters


def test_a_workers_session_id_names_its_pid() -> None:
    assert owner_of(f"4242.{TAIL}") == 4242


@pytest.mark.parametrize(
    "sid",
    [
        TAIL,  # one process: no prefix
        f"0.{TAIL}",
        f"042.{TAIL}",
        f"-1.{TAIL}",
        f"99999999999.{TAIL}",
        f"4294967296.{TAIL}",
        f"../4242.{TAIL}",
        f"4242/..{TAIL}",
        f"4242.{TAIL}x",
        f"4242.{TAIL[:-1]}",
        f"4242.{TAIL[:-1]}/",
        f"4242.{TAIL}\n",
        f"٤٢.{TAIL}",  # digits, but not ASCII ones
        "4242.",
        "",
    ],
)
def test_anything_else_names_no_worker(sid: str) -> None:
    assert owner_of(sid) is None


def test_the_socket_path_is_the_directory_and_a_number() -> None:
    assert socket_path("/run/tocsin", 4242) == "/run/tocsin/4242.sock"


def test_a_worker_prefixes_its_session_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    assert session_prefix() == ""
    assert owner_of(EngineServer(async_mode="asgi").generate_id()) is None
    monkeypatch.setenv(WORKER_SOCKETS_ENV, "/run/tocsin")
    sid = EngineServer(async_mode="asgi").generate_id()
    assert owner_of(sid) == os.getpid(), sid
