"""``TOCSIN_SMTP_URL``: where e-mail is sent, read once into an :class:`SmtpTarget`.

``smtp://user:password@host:port`` (plain), ``smtp://…?starttls=true`` (upgraded with
STARTTLS, which must then succeed) and ``smtps://…`` (TLS from the first byte). The password
is percent-decoded and never part of a message, a ``repr`` or ``str``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlsplit

EXAMPLE = "smtp://user:password@mail.example.com:587?starttls=true"
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    """An SMTP server and how to talk to it."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    implicit_tls: bool = False
    starttls: bool = False

    def __str__(self) -> str:
        """The URL with the password masked, for logs and diagnoses."""
        scheme = "smtps" if self.implicit_tls else "smtp"
        user = f"{quote(self.username, safe='')}:***@" if self.username is not None else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        query = "?starttls=true" if self.starttls else ""
        return f"{scheme}://{user}{host}:{self.port}{query}"


def parse_smtp_url(url: str) -> SmtpTarget:
    """Read an ``smtp://`` or ``smtps://`` URL.

    Ports default to 465 for ``smtps``, 587 with ``?starttls=true``, 25 otherwise.

    Raises:
        ValueError: the URL cannot be used; the message never contains the password.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        # Not the parser's words: they may quote a piece of the password.
        raise ValueError(
            "has no valid host and port (1-65535); percent-encode any / ? # @ in the user "
            f"or password, e.g. {EXAMPLE}"
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps"):
        raise ValueError(f"must be an smtp:// or smtps:// URL, e.g. {EXAMPLE}")
    if not parts.hostname:
        raise ValueError(f"names no host, e.g. {EXAMPLE}")
    if parts.path not in ("", "/") or parts.fragment:
        raise ValueError("must not have a path or a fragment (only ?starttls=true|false)")
    starttls = False
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name != "starttls":
            raise ValueError(f"unknown parameter {name!r} (only ?starttls=true|false)")
        if value.lower() in _TRUE:
            starttls = True
        elif value.lower() in _FALSE:
            starttls = False
        else:
            raise ValueError(f"starttls must be true or false, not {value!r}")
    implicit_tls = scheme == "smtps"
    if implicit_tls and starttls:
        raise ValueError("smtps:// is TLS from the start: drop ?starttls=true (or use smtp://)")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if username is not None and not password:
        raise ValueError("gives a user without a password (smtp://user:password@host)")
    if username is None and password:
        raise ValueError("gives a password without a user (smtp://user:password@host)")
    if port is None:
        port = 465 if implicit_tls else 587 if starttls else 25
    if port == 0:
        raise ValueError("port 0 is not a port to connect to")
    return SmtpTarget(
        host=parts.hostname,
        port=port,
        username=username,
        password=password,
        implicit_tls=implicit_tls,
        starttls=starttls,
    )
