"""`tocsin serve` and `tocsin demo` as a new user meets them: what fails says so in a line."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import listening_socket, require_service


def _env(**extra: str) -> dict[str, str]:
    own = ("TOCSIN_", "WEBSOCKET_", "AUTH_SECRET", "NEXTAUTH_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(own)}
    env.update(extra)
    return env


def tocsin(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `tocsin args` to its end in ``cwd`` with only ``env``'s Tocsin settings."""
    return subprocess.run(
        [sys.executable, "-m", "tocsin", *args],
        cwd=cwd,
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def errors(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The errors uvicorn logged (its progress is INFO, what tocsin says first is not logged)."""
    lines = (result.stdout + result.stderr).splitlines()
    return [line for line in lines if line.startswith("ERROR:")]


def test_an_unreachable_database_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    url = f"postgresql://tocsin:db-pass-456@127.0.0.1:{closed_port()}/tocsin"
    result = tocsin(tmp_path, "serve", "--port", "0", TOCSIN_DATABASE_URL=url)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output and "db-pass-456" not in output
    assert len(errors(result)) == 2, output  # this, and uvicorn's "startup failed"
    named = errors(result)[0]
    assert "TOCSIN_DATABASE_URL" in named
    assert "postgresql+asyncpg://tocsin:***@127.0.0.1" in named
    assert "ConnectionRefusedError" in named


def test_a_sqlite_file_in_a_missing_directory_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir"
    result = tocsin(
        tmp_path, "serve", "--port", "0", TOCSIN_DATABASE_URL=f"sqlite:///{missing}/tocsin.db"
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "Traceback" not in output, output
    (line,) = [line for line in errors(result) if "TOCSIN_DATABASE_URL" in line]
    assert f"{missing}/tocsin.db" in line and f"no directory {missing}" in line


@pytest.mark.parametrize(
    ("command", "variable", "value"),
    [
        ("serve", "TOCSIN_REDIS_URL", "localhost:6379"),
        ("serve", "TOCSIN_JWT_PUBLIC_KEY", "notapem"),
        ("serve", "TOCSIN_JWT_PUBLIC_KEY", "/nonexistent/tocsin-key.pem"),
        ("checkconfig", "TOCSIN_JWT_PUBLIC_KEY", "notapem"),
    ],
)
def test_a_bad_setting_stops_start_up_in_one_line(
    tmp_path: Path, command: str, variable: str, value: str
) -> None:
    result = tocsin(tmp_path, command, **{variable: value})
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(f"tocsin: invalid setting: {variable}: ")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "tocsin.db").exists()  # refused before anything opened


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_a_port_in_use_is_a_one_line_hint(tmp_path: Path, command: str) -> None:
    taken = listening_socket()
    port = taken.getsockname()[1]
    try:
        result = tocsin(tmp_path, command, "--port", str(port))
    finally:
        taken.close()
    assert result.returncode == 1
    assert result.stderr == (
        f"tocsin: port {port} is in use: another tocsin? try --port {port + 1} or TOCSIN_PORT\n"
    )
    assert not (tmp_path / "tocsin.db").exists()  # said before the start-up opened anything


def test_serve_without_secrets_says_what_to_set(tmp_path: Path) -> None:
    # A database that cannot open ends the run right after the start-up messages.
    result = tocsin(
        tmp_path, "serve", "--port", "0", TOCSIN_DATABASE_URL=f"sqlite:///{tmp_path}/x/y/z.db"
    )
    warning = result.stderr
    for name in ("TOCSIN_JWT_SECRET", "AUTH_SECRET", "NEXTAUTH_SECRET", "TOCSIN_ADMIN_KEY"):
        assert name in warning, warning
    assert "tocsin keys create" in warning and "make demo" in warning

    configured = tocsin(
        tmp_path,
        "serve",
        "--port",
        "0",
        TOCSIN_DATABASE_URL=f"sqlite:///{tmp_path}/x/y/z.db",
        AUTH_SECRET="s" * 32,
        TOCSIN_ADMIN_KEY="k" * 32,
    )
    assert "warning" not in configured.stderr and "note:" not in configured.stderr


def test_serve_says_which_database_it_uses(tmp_path: Path) -> None:
    result = tocsin(tmp_path, "serve", "--port", "0", TOCSIN_DATABASE_URL="sqlite:///x/y/z.db")
    assert f"tocsin: database sqlite+aiosqlite:///{tmp_path}/x/y/z.db (TOCSIN_DATABASE_URL)" in (
        result.stderr
    )


def test_make_demo_passes_args_to_the_demo() -> None:
    if shutil.which("make") is None:
        require_service("make", "not on PATH")
    root = Path(__file__).resolve().parents[2]
    # -n prints the recipe; -o: the venv and the web build count as done (nothing is built).
    done = ["-o", "web", "-o", ".venv/bin/tocsin", "VENV=.venv"]
    result = subprocess.run(
        # Under `make test` this make is a sub-make: it would print Entering/Leaving lines.
        ["make", "-n", "--no-print-directory", *done, "demo", "ARGS=--port 8123 --interval 3"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert ".venv/bin/tocsin demo --port 8123 --interval 3" in result.stdout.splitlines()
