"""`tocsin serve` as a user runs it: a real process with embedded defaults."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import listening_socket


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOCSIN_", "WEBSOCKET_"))}
    env.update(extra)
    return env


def test_serve_with_embedded_defaults_answers_healthz(tmp_path: Path) -> None:
    sock = listening_socket()
    port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "tocsin", "serve", "--fd", str(sock.fileno())],
        cwd=tmp_path,
        env=_env(),
        pass_fds=[sock.fileno()],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    sock.close()
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert response.json() == {"status": "ok"}
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert ready.json()["checks"] == {"database": "ok", "bus": "ok"}
        assert (tmp_path / "tocsin.db").exists()  # the default SQLite file, in the cwd
        engine_io = httpx.get(f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling")
        assert engine_io.status_code == 200 and engine_io.text.startswith("0{")
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.mark.parametrize(
    ("variable", "value"),
    [("TOCSIN_PORT", "eighty"), ("TOCSIN_DATABASE_URL", "mysql://x/y"), ("WEBSOCKET_PATH", "/")],
)
def test_a_bad_setting_fails_start_up_naming_it(tmp_path: Path, variable: str, value: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tocsin", "serve"],
        cwd=tmp_path,
        env=_env(**{variable: value}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert variable in result.stderr, result.stderr
