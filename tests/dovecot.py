"""A private Dovecot IMAP server (Debian's dovecot-imapd) on a free port, for the IMAP tests."""

from __future__ import annotations

import contextlib
import imaplib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.helpers import require_service

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER = "alice"
PASSWORD = "s3cret-imap"
# Mail processes may not run as root; Debian always has these users.
MAIL_USER, MAIL_GROUP = "nobody", "nogroup"
LOGIN_USER, INTERNAL_USER = "dovenull", "dovecot"

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {runtime}/run
state_dir = {home}/state
log_path = {home}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal_user}
default_internal_group = {internal_user}
default_login_user = {login_user}
first_valid_uid = 1
mail_uid = {mail_user}
mail_gid = {mail_group}
mail_location = maildir:{runtime}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {home}/passwd
}}
userdb {{
  driver = static
  args = home={runtime}/mail/%u
}}
# The passwd file is in tmp_path, which only root may enter.
service auth {{
  user = root
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


class Dovecot:
    """``dovecot -F -c <tmp>/dovecot.conf``: plaintext login for one user, maildir storage.

    Configuration, log and state live in ``home`` (the test's tmp_path). Sockets and mail
    live in a short directory under /tmp: unix socket paths are limited to 108 bytes, and
    the unprivileged mail user cannot enter pytest's private tmp_path.
    """

    def __init__(self, home: Path) -> None:
        if not Path(DOVECOT).exists():
            require_service("dovecot", "install Debian's dovecot-imapd (as .ci/run does)")
        self.home = home
        self.home.mkdir(parents=True, exist_ok=True)
        self.runtime = Path(tempfile.mkdtemp(prefix="tocsin-dv-"))
        self.runtime.chmod(0o755)
        (self.runtime / "mail").mkdir()
        shutil.chown(self.runtime / "mail", MAIL_USER, MAIL_GROUP)
        (self.home / "state").mkdir(exist_ok=True)
        (self.home / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
        self.port = _free_port()
        self.config = self.home / "dovecot.conf"
        self.config.write_text(
            CONFIG.format(
                runtime=self.runtime,
                home=self.home,
                port=self.port,
                mail_user=MAIL_USER,
                mail_group=MAIL_GROUP,
                login_user=LOGIN_USER,
                internal_user=INTERNAL_USER,
            )
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def maildir(self) -> Path:
        """The test user's maildir."""
        return self.runtime / "mail" / USER

    def start(self) -> None:
        """Start and wait (up to 15 s) until it accepts connections."""
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            # Its own process group: stop() ends the IMAP sessions too, which the master
            # leaves running when it exits.
            start_new_session=True,
        )
        deadline = time.monotonic() + 15
        while not _listening(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"dovecot did not start: {self.log()}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop the server and end its sessions (the maildir is kept for a restart)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None

    def close(self) -> None:
        """Stop and remove its files."""
        self.stop()
        shutil.rmtree(self.runtime, ignore_errors=True)

    def log(self) -> str:
        """The server's log (for failure messages)."""
        path = self.home / "dovecot.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else "(no log)"

    def append(self, message: bytes, folder: str = "INBOX") -> int:
        """APPEND a message over IMAP (stdlib imaplib, not the client under test); its UID."""
        with imaplib.IMAP4("127.0.0.1", self.port, timeout=10) as conn:
            conn.login(USER, PASSWORD)
            status, data = conn.append(folder, None, None, message)
            if status != "OK":
                raise RuntimeError(f"APPEND refused: {data!r}")
            answer = b" ".join(d for d in data if isinstance(d, bytes))
            match = re.search(rb"APPENDUID \d+ (\d+)", answer)
            return int(match.group(1)) if match else 0

    def mailbox(self, name: str, routing: object, **extra: object) -> dict[str, object]:
        """A mailboxes-file entry for this server's INBOX."""
        return {
            "name": name,
            "host": "127.0.0.1",
            "port": self.port,
            "tls": False,
            "user": USER,
            "password": PASSWORD,
            "routing": routing,
            **extra,
        }
