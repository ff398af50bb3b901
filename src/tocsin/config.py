"""Settings, read from the environment (``TOCSIN_*`` plus the seed's and NextAuth's own names)."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tocsin.redact import redact

# The browsers' own push services: Chrome/Edge-on-Android (FCM), Firefox, Edge, Safari.
DEFAULT_PUSH_SERVICES = (
    "https://fcm.googleapis.com/*",
    "https://*.push.services.mozilla.com/*",
    "https://*.notify.windows.com/*",
    "https://web.push.apple.com/*",
    "https://*.push.apple.com/*",
)


class ConfigError(Exception):
    """A setting is missing or invalid; the message names the variable to fix."""


def _env(*names: str) -> AliasChoices:
    # Only these names are read from the environment; the field's own name works as a
    # keyword (populate_by_name). A bare DATABASE_URL, REDIS_URL or PORT belongs to the
    # host app (Prisma's DATABASE_URL, a platform's PORT) and must never reach Tocsin.
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Every knob of a Tocsin node.

    Each field reads ``TOCSIN_<NAME>``; the fields the seed or NextAuth already named
    (``WEBSOCKET_PATH``, ``NEXTAUTH_SECRET``…) read those names too, so an app's existing
    environment works unchanged.
    """

    model_config = SettingsConfigDict(
        env_prefix="TOCSIN_", populate_by_name=True, extra="ignore", case_sensitive=False
    )

    database_url: str = Field(
        default="sqlite+aiosqlite:///./tocsin.db",
        validation_alias=_env("TOCSIN_DATABASE_URL"),
    )
    redis_url: str | None = Field(default=None, validation_alias=_env("TOCSIN_REDIS_URL"))
    host: str = Field(default="127.0.0.1", validation_alias=_env("TOCSIN_HOST"))
    port: int = Field(default=8000, ge=0, le=65535, validation_alias=_env("TOCSIN_PORT"))
    admin_key: str | None = Field(default=None, validation_alias=_env("TOCSIN_ADMIN_KEY"))
    jwt_secret: str | None = Field(default=None, validation_alias=_env("TOCSIN_JWT_SECRET"))
    nextauth_secret: str | None = Field(default=None, validation_alias=_env("NEXTAUTH_SECRET"))
    auth_secret: str | None = Field(default=None, validation_alias=_env("AUTH_SECRET"))
    auth_secret_1: str | None = Field(default=None, validation_alias=_env("AUTH_SECRET_1"))
    auth_secret_2: str | None = Field(default=None, validation_alias=_env("AUTH_SECRET_2"))
    auth_secret_3: str | None = Field(default=None, validation_alias=_env("AUTH_SECRET_3"))
    jwt_public_key: str | None = Field(
        default=None,
        validation_alias=_env("TOCSIN_JWT_PUBLIC_KEY"),
        description="PEM public key (or a path to one) verifying RS256/ES256 user tokens.",
    )
    nextauth_url: str | None = Field(
        default=None,
        validation_alias=_env("NEXTAUTH_URL"),
        description="The app's URL; database-strategy session cookies are resolved there.",
    )
    session_cache_seconds: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        validation_alias=_env("TOCSIN_SESSION_CACHE_SECONDS"),
    )
    session_refusal_cache_seconds: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        validation_alias=_env("TOCSIN_SESSION_REFUSAL_CACHE_SECONDS"),
        description="How long the app's 'no such session' for a cookie is reused.",
    )
    session_lookups: int = Field(
        default=16,
        ge=1,
        le=1024,
        validation_alias=_env("TOCSIN_SESSION_LOOKUPS"),
        description="Requests to NEXTAUTH_URL in flight at once; more wait (bounded) or fail.",
    )
    websocket_path: str = Field(default="/socket.io", validation_alias=_env("WEBSOCKET_PATH"))
    websocket_cors_origin: str | None = Field(
        default=None,
        validation_alias=_env("WEBSOCKET_CORS_ORIGIN"),
    )
    websocket_enabled: bool = Field(default=True, validation_alias=_env("WEBSOCKET_ENABLED"))
    replay_limit: int = Field(
        default=500, ge=1, le=100_000, validation_alias=_env("TOCSIN_REPLAY_LIMIT")
    )
    poll_interval: float = Field(
        default=1.0,
        gt=0,
        le=60,
        validation_alias=_env("TOCSIN_POLL_INTERVAL"),
        description="Seconds between store polls that catch what a missed doorbell left behind.",
    )
    clients_count_debounce: float = Field(
        default=0.25,
        ge=0,
        le=10,
        validation_alias=_env("TOCSIN_CLIENTS_COUNT_DEBOUNCE"),
    )
    presence_interval: float = Field(
        default=5.0,
        gt=0,
        le=60,
        validation_alias=_env("TOCSIN_PRESENCE_INTERVAL"),
        description="Seconds between a node's reports of its sockets per tenant on the Redis "
        "bus (clients-count across nodes); a node silent for three is counted out.",
    )
    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        validation_alias=_env("TOCSIN_MAX_BODY_BYTES"),
    )
    claim_user_id: str = Field(default="id", validation_alias=_env("TOCSIN_CLAIM_USER_ID"))
    claim_tenant_id: str = Field(
        default="tenantId", validation_alias=_env("TOCSIN_CLAIM_TENANT_ID")
    )
    claim_role: str = Field(default="role", validation_alias=_env("TOCSIN_CLAIM_ROLE"))
    bus_heartbeat_interval: float = Field(
        default=1.0,
        gt=0,
        le=60,
        validation_alias=_env("TOCSIN_BUS_HEARTBEAT_INTERVAL"),
        description="Seconds between Redis bus heartbeats; 3 missed mark the bus unhealthy.",
    )
    websocket_only: bool = Field(
        default=False,
        validation_alias=_env("TOCSIN_WEBSOCKET_ONLY"),
        description="Refuse HTTP long-polling (opt-in: the default clients start with it).",
    )
    websocket_compression: bool = Field(
        default=False,
        validation_alias=_env("TOCSIN_WEBSOCKET_COMPRESSION"),
        description="Accept permessage-deflate: less bandwidth, about twice the memory per "
        "socket (each keeps its own zlib state). Off by default, as in socket.io.",
    )
    gc_freeze: bool = Field(
        default=True,
        validation_alias=_env("TOCSIN_GC_FREEZE"),
        description="Move start-up objects out of the garbage collector's sight once ready.",
    )
    gc_full_interval: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        validation_alias=_env("TOCSIN_GC_FULL_INTERVAL"),
        description="Seconds between full garbage collections, which then run only on this "
        "schedule (or after much allocation); 0 keeps Python's own rule.",
    )
    workers: int = Field(default=1, ge=1, le=64, validation_alias=_env("TOCSIN_WORKERS"))
    shutdown_timeout: float = Field(
        default=10.0,
        ge=0,
        le=600,
        validation_alias=_env("TOCSIN_SHUTDOWN_TIMEOUT"),
        description="Seconds a stopping node waits for its connections to close.",
    )
    timezone: str = Field(
        default="Europe/Paris",
        validation_alias=_env("TOCSIN_TIMEZONE"),
        description="Zone in which deadlines' calendar days are counted, unless they name one.",
    )
    locale: str = Field(default="fr", pattern="^(fr|en)$", validation_alias=_env("TOCSIN_LOCALE"))
    deadlines_scheduler: bool = Field(
        default=True, validation_alias=_env("TOCSIN_DEADLINES_SCHEDULER")
    )
    deadlines_time: str = Field(
        default="09:00",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        validation_alias=_env("TOCSIN_DEADLINES_TIME"),
        description="Daily check time (HH:MM) in TOCSIN_TIMEZONE.",
    )
    deadlines_interval: float | None = Field(
        default=None,
        gt=0,
        validation_alias=_env("TOCSIN_DEADLINES_INTERVAL"),
        description="Also check every N seconds (unset: only daily).",
    )
    deadline_window_days: int = Field(
        default=3,
        ge=0,
        le=365,
        validation_alias=_env("TOCSIN_DEADLINE_WINDOW_DAYS"),
    )
    deadline_critical_days: int = Field(
        default=1,
        ge=0,
        le=365,
        validation_alias=_env("TOCSIN_DEADLINE_CRITICAL_DAYS"),
    )
    deadline_urgent_days: int = Field(
        default=2,
        ge=0,
        le=365,
        validation_alias=_env("TOCSIN_DEADLINE_URGENT_DAYS"),
    )
    deadline_ack: bool = Field(
        default=True,
        validation_alias=_env("TOCSIN_DEADLINE_ACK"),
        description="Put an « Accuser réception » button on critical deadline alerts.",
    )
    deadline_ack_label: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        validation_alias=_env("TOCSIN_DEADLINE_ACK_LABEL"),
        description="The button's label (default: « Accuser réception », or Acknowledge in en).",
    )
    push_after: float = Field(
        default=600.0,
        ge=0,
        validation_alias=_env("TOCSIN_PUSH_AFTER"),
        description="Seconds a notification may stay unseen before it is pushed.",
    )
    email_after: float = Field(
        default=1800.0,
        ge=0,
        validation_alias=_env("TOCSIN_EMAIL_AFTER"),
        description="Seconds a critical notification may stay unread before it is e-mailed.",
    )
    retention_days: int = Field(
        default=365,
        ge=1,
        le=36_500,
        validation_alias=_env("TOCSIN_RETENTION_DAYS"),
        description="Days a notification is kept (a firm's own setting overrides it); a "
        "daily purge removes older ones with their states, deliveries and jobs.",
    )
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s<>\"']+$",
        validation_alias=_env("TOCSIN_PUBLIC_URL"),
        description="Tocsin's address as users reach it (one-click unsubscribe links).",
    )
    app_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s<>\"']+$",
        validation_alias=_env("TOCSIN_APP_URL"),
        description="The app's address, linked from e-mails (default: TOCSIN_PUBLIC_URL).",
    )
    mail_secret: str | None = Field(
        default=None,
        repr=False,
        min_length=16,
        validation_alias=_env("TOCSIN_MAIL_SECRET"),
        description="Signs unsubscribe links (default: derived from the other secrets).",
    )
    snooze_min_seconds: float = Field(
        default=60.0,
        gt=0,
        validation_alias=_env("TOCSIN_SNOOZE_MIN_SECONDS"),
        description="A snooze ends at least this many seconds ahead (DESIGN §7: one minute).",
    )
    jobs_poll_interval: float = Field(
        default=1.0,
        gt=0,
        le=60,
        validation_alias=_env("TOCSIN_JOBS_POLL_INTERVAL"),
        description="Seconds between a node's looks for due jobs (snooze wake-ups…).",
    )
    jobs_lease: float = Field(
        default=60.0,
        gt=0,
        validation_alias=_env("TOCSIN_JOBS_LEASE"),
        description="Seconds a node holds a claimed job before another may run it.",
    )
    outbox: bool = Field(
        default=True,
        validation_alias=_env("TOCSIN_OUTBOX"),
        description="Consume the transactional outbox (PostgreSQL stores only; docs/outbox.md).",
    )
    outbox_poll: float = Field(
        default=5.0,
        gt=0,
        le=300,
        validation_alias=_env("TOCSIN_OUTBOX_POLL"),
        description="Seconds between looks at the outbox besides its NOTIFY (a safety net).",
    )
    publish_rate: float = Field(
        default=1000.0,
        gt=0,
        validation_alias=_env("TOCSIN_PUBLISH_RATE"),
        description="Notifications per second each API key may publish (per node).",
    )
    publish_burst: float = Field(
        default=5000.0, ge=1, validation_alias=_env("TOCSIN_PUBLISH_BURST")
    )
    client_event_rate: float = Field(
        default=20.0,
        gt=0,
        validation_alias=_env("TOCSIN_CLIENT_EVENT_RATE"),
        description="Client events (mark-read, inbox…) per second per socket.",
    )
    client_event_burst: float = Field(
        default=40.0, ge=1, validation_alias=_env("TOCSIN_CLIENT_EVENT_BURST")
    )
    max_connections_per_user: int = Field(
        default=50,
        ge=1,
        validation_alias=_env("TOCSIN_MAX_CONNECTIONS_PER_USER"),
    )
    max_backlog: int = Field(
        default=2000,
        ge=10,
        validation_alias=_env("TOCSIN_MAX_BACKLOG"),
        description="Packets waiting for a socket that does not read; beyond, it is dropped.",
    )
    max_socket_buffer_bytes: int = Field(
        default=1_048_576,
        ge=65_536,
        validation_alias=_env("TOCSIN_MAX_SOCKET_BUFFER_BYTES"),
        description=(
            "Bytes of packets of any kind (events, acks, answers) waiting for one socket "
            "that does not read; beyond, the socket is closed."
        ),
    )
    connect_timeout: float = Field(
        default=45.0,
        gt=0,
        validation_alias=_env("TOCSIN_CONNECT_TIMEOUT"),
        description="Seconds an Engine.IO session may live without a Socket.IO CONNECT.",
    )
    max_header_bytes: int = Field(
        default=32_768,
        ge=4096,
        validation_alias=_env("TOCSIN_MAX_HEADER_BYTES"),
        description="Largest HTTP request line and headers (larger: 431, connection closed).",
    )
    header_timeout: float = Field(
        default=10.0,
        gt=0,
        validation_alias=_env("TOCSIN_HEADER_TIMEOUT"),
        description="Seconds a client has to send a request's headers (then: 408, closed).",
    )
    migrate_on_start: bool = Field(default=True, validation_alias=_env("TOCSIN_MIGRATE_ON_START"))
    log_level: str = Field(default="info", validation_alias=_env("TOCSIN_LOG_LEVEL"))
    mailboxes_file: str | None = Field(
        default=None,
        validation_alias=_env("TOCSIN_MAILBOXES_FILE"),
        description="JSON or TOML file of the IMAP mailboxes to watch and their routing.",
    )
    inbound_max_bytes: int = Field(
        default=26_214_400,
        ge=1024,
        validation_alias=_env("TOCSIN_INBOUND_MAX_BYTES"),
        description="Largest message POST /api/v1/inbound/email accepts (larger: 413).",
    )
    smtp_url: str | None = Field(
        default=None,
        repr=False,  # it may hold a password
        validation_alias=_env("TOCSIN_SMTP_URL"),
        description="SMTP server for e-mail: smtp://user:password@host:port, "
        "?starttls=true to upgrade, smtps:// for TLS from the start.",
    )
    mail_from: str | None = Field(
        default=None,
        validation_alias=_env("TOCSIN_MAIL_FROM"),
        description="Sender of e-mails: an address, optionally with a name "
        "(Cabinet Dupont <notifications@dupont.fr>).",
    )
    vapid_private_key: str | None = Field(
        default=None,
        repr=False,
        validation_alias=_env("TOCSIN_VAPID_PRIVATE_KEY"),
        description="Web Push's P-256 private key, base64url raw or PEM "
        "(`tocsin vapid generate`); unset: no Web Push.",
    )
    vapid_subject: str | None = Field(
        default=None,
        validate_default=True,
        validation_alias=_env("TOCSIN_VAPID_SUBJECT"),
        description="How push services reach the operator: mailto:… or https:….",
    )
    push_ttl: int = Field(
        default=86_400,
        gt=0,
        le=2_419_200,
        validation_alias=_env("TOCSIN_PUSH_TTL"),
        description="Seconds a push service keeps a push for an offline device (FCM: 28 d max).",
    )
    push_services: Annotated[list[str], NoDecode] = Field(
        default=list(DEFAULT_PUSH_SERVICES),
        validation_alias=_env("TOCSIN_PUSH_SERVICES"),
        description="Comma-separated URL patterns of the push services endpoints may use.",
    )

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        """Accept the plain ``sqlite://`` and ``postgresql://`` forms by adding the async driver."""
        if value.startswith("sqlite:"):
            return "sqlite+aiosqlite:" + value[len("sqlite:") :]
        for prefix in ("postgresql:", "postgres:"):
            if value.startswith(prefix):
                return "postgresql+asyncpg:" + value[len(prefix) :]
        if value.startswith(("sqlite+aiosqlite:", "postgresql+asyncpg:")):
            return value
        raise ValueError("must be a sqlite:/// or postgresql:// URL")

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        """Refuse a URL redis-py cannot use (``localhost:6379`` lacks its scheme) now,
        rather than when the bus starts."""
        if value is None or not value.strip():
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(
                "must be a redis://, rediss:// or unix:// URL, e.g. redis://host:6379/0"
            )
        from redis.connection import parse_url

        parse_url(value)  # type: ignore[no-untyped-call]  # its ValueError names the fault
        return value

    @field_validator("jwt_public_key")
    @classmethod
    def _loadable_public_key(cls, value: str | None) -> str | None:
        """Load the key now, so that a wrong value or a missing file stops start-up."""
        if value is None or not value.strip():
            return None
        from tocsin.auth.jwt import load_public_key

        try:
            load_public_key(value)
        except OSError as exc:
            raise ValueError(
                f"not PEM text, nor a file that can be read ({exc.strerror or exc})"
            ) from None
        except ValueError:
            raise ValueError(
                "not an RSA or EC public key in PEM format (give the PEM text or its file's path)"
            ) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        """Refuse a time zone the system does not know (e.g. a typo in TOCSIN_TIMEZONE)."""
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Paris)") from None
        return value

    @field_validator("mailboxes_file")
    @classmethod
    def _valid_mailboxes(cls, value: str | None) -> str | None:
        """Read the mailboxes file now, so that a mistake stops start-up (ConfigError)."""
        if value is None or not value.strip():
            return None
        from tocsin.ingest.config import load_mailboxes  # ingest imports this module

        load_mailboxes(value)
        return value

    @field_validator("vapid_private_key")
    @classmethod
    def _loadable_vapid_key(cls, value: str | None) -> str | None:
        """Load the key now, so that a wrong value stops start-up (without echoing it)."""
        if value is None or not value.strip():
            return None
        from tocsin.push.vapid import load_private_key

        load_private_key(value)
        return value

    @field_validator("vapid_subject")
    @classmethod
    def _vapid_subject(cls, value: str | None, info: ValidationInfo) -> str | None:
        """A mailto: or https: subject, required once a VAPID key is set."""
        if value is None or not value.strip():
            if info.data.get("vapid_private_key"):
                raise ValueError("required with TOCSIN_VAPID_PRIVATE_KEY, e.g. mailto:ops@…")
            return None
        from tocsin.push.vapid import check_subject

        return check_subject(value)

    @field_validator("push_services", mode="before")
    @classmethod
    def _push_services(cls, value: Any) -> Any:
        """Split the comma-separated list; refuse a pattern the allow-list cannot read."""
        if isinstance(value, str):
            value = [item.strip() for item in value.split(",") if item.strip()]
        if isinstance(value, list | tuple):
            from tocsin.push.allowlist import parse_pattern

            for item in value:
                parse_pattern(str(item))
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: str | None) -> str | None:
        """Refuse an SMTP URL that cannot be used now (its message never shows the password)."""
        if value is None or not value.strip():
            return None
        from tocsin.mail.smtpurl import parse_smtp_url

        parse_smtp_url(value)
        return value.strip()

    @field_validator("mail_from")
    @classmethod
    def _mail_from(cls, value: str | None) -> str | None:
        """Refuse a sender that is not one e-mail address."""
        if value is None or not value.strip():
            return None
        from tocsin.mail.addresses import parse_address

        parse_address(value)
        return value.strip()

    @field_validator("websocket_path")
    @classmethod
    def _leading_slash(cls, value: str) -> str:
        """Normalise the Socket.IO path to ``/name`` without a trailing slash."""
        value = "/" + value.strip("/")
        if value == "/":
            raise ValueError("must not be the root path")
        return value

    @property
    def cors_origins(self) -> list[str] | str:
        """Origins allowed to open a socket: a list, or ``[]`` for same-origin only."""
        if not self.websocket_cors_origin:
            return []
        if self.websocket_cors_origin.strip() == "*":
            return "*"
        return [o.strip() for o in self.websocket_cors_origin.split(",") if o.strip()]

    @property
    def session_secrets(self) -> list[tuple[str, str]]:
        """NextAuth/Auth.js secrets as (variable name, value), newest first."""
        named = [
            ("AUTH_SECRET", self.auth_secret),
            ("AUTH_SECRET_1", self.auth_secret_1),
            ("AUTH_SECRET_2", self.auth_secret_2),
            ("AUTH_SECRET_3", self.auth_secret_3),
            ("NEXTAUTH_SECRET", self.nextauth_secret),
        ]
        return [(name, value) for name, value in named if value]

    @property
    def is_sqlite(self) -> bool:
        """Whether the store is a SQLite file (one writer process)."""
        return self.database_url.startswith("sqlite")


_ALIASES = {
    name: (
        field.validation_alias.choices[0]
        if isinstance(field.validation_alias, AliasChoices)
        else f"TOCSIN_{name.upper()}"
    )
    for name, field in Settings.model_fields.items()
}


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment, with explicit overrides (CLI flags) on top.

    Raises:
        ConfigError: a value is invalid; the message names the environment variable.
    """
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            env_name = str(_ALIASES.get(field, field))
            # Never echo a secret, nor the password of a URL. The location is the name the
            # value came by: TOCSIN_ADMIN_KEY from the environment, admin_key as a keyword.
            name = env_name.lower()
            secret = "secret" in name or (name.endswith("_key") and "public" not in name)
            shown = "***" if secret else redact(repr(err.get("input")))
            if len(shown) > 80:
                shown = shown[:77] + "…"
            message = str(err["msg"]).removeprefix("Value error, ")
            problems.append(f"{env_name}: {message} (got {shown})")
        raise ConfigError("invalid setting: " + "; ".join(problems)) from None
