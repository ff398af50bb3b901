"""The mailboxes file (``TOCSIN_MAILBOXES_FILE``): which IMAP folders to watch and who gets what.

A JSON list (or ``{"mailboxes": [...]}``), or TOML with ``[[mailboxes]]`` tables::

    [[mailboxes]]
    name = "greffe"
    host = "imap.example.com"          # no host: the entry only routes webhook mail
    user = "greffe@cabinet.example"
    password_env = "GREFFE_IMAP_PASSWORD"
    routing = { tenantId = "firm-a", userId = "alice" }
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from tocsin.config import ConfigError
from tocsin.ingest.parse import DEFAULT_DOSSIER_PATTERN, MAX_MESSAGE_BYTES
from tocsin.models import Identifier

VARIABLE = "TOCSIN_MAILBOXES_FILE"
WILDCARD = "*"

Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]


class Route(BaseModel):
    """Who gets the notification: a user of a tenant."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenantId: Identifier
    userId: Identifier


class MailboxConfig(BaseModel):
    """One watched mailbox (or, without ``host``, only a routing table for the webhook)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    tls: bool = True
    user: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    password_env: str | None = None
    folder: str = Field(default="INBOX", min_length=1, max_length=500)
    # One route for the whole mailbox, or recipient address (``@domain``, ``*``) → route.
    routing: Route | dict[str, Route]
    dossier_pattern: str = DEFAULT_DOSSIER_PATTERN
    # The mailbox's own address: webhook mail sent to it follows a whole-mailbox route.
    address: str | None = None
    idle: bool = True
    poll_interval: float = Field(default=30.0, gt=0, le=3600)
    max_message_bytes: int = Field(default=MAX_MESSAGE_BYTES, ge=1024, le=100 * 1_048_576)
    backfill: int = Field(default=0, ge=0, le=100_000)
    rescan_days: int = Field(default=7, ge=0, le=36_500)

    _pattern: re.Pattern[str] = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        """Compile the dossier pattern once."""
        self._pattern = re.compile(self.dossier_pattern)

    @field_validator("dossier_pattern")
    @classmethod
    def _regex(cls, value: str) -> str:
        """Refuse a pattern that does not compile."""
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value

    @field_validator("routing")
    @classmethod
    def _addresses(cls, value: Route | dict[str, Route]) -> Route | dict[str, Route]:
        """Lower-case the recipient keys; each is an address, ``@domain`` or ``*``."""
        if isinstance(value, Route):
            return value
        if not value:
            raise ValueError("must name a route ({tenantId, userId}) or at least one recipient")
        table: dict[str, Route] = {}
        for key, route in value.items():
            address = key.strip().lower()
            if address != WILDCARD and "@" not in address:
                raise ValueError(f"{key!r}: expected an e-mail address, '@domain' or '*'")
            table[address] = route
        return table

    @model_validator(mode="after")
    def _connection(self) -> MailboxConfig:
        """A watched mailbox needs a user and exactly one source of password."""
        if self.host is None:
            return self
        if not self.user:
            raise ValueError("user: required with host")
        sources = [s for s in (self.password, self.password_file, self.password_env) if s]
        if len(sources) != 1:
            raise ValueError("give exactly one of password, password_file, password_env")
        self.resolve_password()
        return self

    @property
    def pattern(self) -> re.Pattern[str]:
        """The compiled dossier pattern."""
        return self._pattern

    @property
    def imap_port(self) -> int:
        """The port, defaulting to 993 with TLS and 143 without."""
        return self.port or (993 if self.tls else 143)

    @property
    def own_address(self) -> str | None:
        """``address``, else the login when it is an address."""
        found = self.address or (self.user if self.user and "@" in self.user else None)
        return found.strip().lower() if found else None

    def resolve_password(self) -> str:
        """The password, read now (a rotated secret file is picked up at the next connect).

        Raises:
            ValueError: the file or variable is missing or empty.
        """
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_file is not None:
            try:
                secret = self.password_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(
                    f"password_file: cannot read {self.password_file}: {exc}"
                ) from None
            if not secret:
                raise ValueError(f"password_file: {self.password_file} is empty")
            return secret
        secret = os.environ.get(self.password_env or "", "")
        if not secret:
            raise ValueError(f"password_env: the variable {self.password_env} is not set")
        return secret


def _read(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".toml":
        return tomllib.loads(text)
    try:
        return json.loads(text)
    except ValueError:
        if path.suffix.lower() == ".json":
            raise
        return tomllib.loads(text)


def parse_mailboxes(data: Any) -> list[MailboxConfig]:
    """Validate the file's content.

    Raises:
        ValueError: naming the mailbox and the field at fault.
    """
    if isinstance(data, dict) and set(data) == {"mailboxes"}:
        data = data["mailboxes"]
    if not isinstance(data, list):
        raise ValueError("expected a list of mailboxes (JSON list, or [[mailboxes]] in TOML)")
    mailboxes: list[MailboxConfig] = []
    for index, item in enumerate(data):
        label = f"mailboxes[{index}]"
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            label += f" ({item['name']})"
        try:
            mailboxes.append(MailboxConfig.model_validate(item))
        except ValidationError as exc:
            problems = []
            for err in exc.errors():
                where = ".".join(
                    str(p) for p in err["loc"] if p not in ("Route", "dict[str,Route]")
                )
                message = str(err["msg"]).removeprefix("Value error, ")
                problems.append(f"{where}: {message}" if where else message)
            raise ValueError(f"{label}: " + "; ".join(problems)) from None
    names = [m.name for m in mailboxes]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"mailbox names must be unique: {', '.join(duplicates)}")
    return mailboxes


def load_mailboxes(path: str | Path) -> list[MailboxConfig]:
    """Read and validate the mailboxes file.

    Raises:
        ConfigError: naming ``TOCSIN_MAILBOXES_FILE``, the file and what is wrong in it.
    """
    file = Path(path)
    try:
        return parse_mailboxes(_read(file))
    except OSError as exc:
        raise ConfigError(f"{VARIABLE}: cannot read {file}: {exc.strerror or exc}") from None
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{VARIABLE}: {file}: {exc}") from None


@lru_cache(maxsize=8)
def _cached(path: str, _stamp: tuple[int, int]) -> list[MailboxConfig]:
    return load_mailboxes(path)


def current_mailboxes(path: str | None) -> list[MailboxConfig]:
    """The mailboxes file as it is now, re-read only when it changed (for the webhook).

    Raises:
        ConfigError: see :func:`load_mailboxes`.
    """
    if not path:
        return []
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise ConfigError(f"{VARIABLE}: cannot read {path}: {exc.strerror or exc}") from None
    return _cached(path, (stat.st_mtime_ns, stat.st_size))
