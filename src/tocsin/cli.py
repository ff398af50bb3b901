"""The ``tocsin`` command line: serve, demo, migrate, keys, send, deadlines, token,
checktoken, checkconfig, vapid, users (erase, export), retention."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from tocsin import dblocation
from tocsin.auth.apikeys import Publisher
from tocsin.auth.jwt import mint_jwt
from tocsin.config import ConfigError, Settings, load_settings
from tocsin.demo import add_demo_command
from tocsin.errors import TocsinError
from tocsin.models import NOTIFICATION_EVENTS
from tocsin.privacycli import add_privacy_commands
from tocsin.redact import redact
from tocsin.startup import StartupError, describe_failure, ensure_port_free, missing_secrets


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        "host": getattr(args, "host", None),
        "port": getattr(args, "port", None),
        "database_url": getattr(args, "database_url", None),
    }
    return load_settings(**overrides)


def _say_database(args: argparse.Namespace, settings: Settings) -> None:
    flag = getattr(args, "database_url", None)
    where = dblocation.shown(settings.database_url)
    print(f"tocsin: database {where} ({dblocation.source(flag)})", file=sys.stderr)


def _store_settings(args: argparse.Namespace) -> Settings:
    """Settings of a command that opens the store: it says which database it uses, and
    refuses to create the default SQLite file (``serve`` and ``demo`` alone may).

    Raises:
        ConfigError: a setting is invalid, or the default database does not exist.
    """
    settings = _settings(args)
    _say_database(args, settings)
    dblocation.refuse_new_default_file(settings.database_url, getattr(args, "database_url", None))
    return settings


def cmd_serve(args: argparse.Namespace) -> int:
    """Run a node with uvicorn (``--workers N``: N processes sharing the port)."""
    import uvicorn

    from tocsin.app import create_app
    from tocsin.serving import serve_workers, uvicorn_options

    settings = _settings(args)
    if args.fd is None:
        ensure_port_free(settings.host, settings.port)
    _say_database(args, settings)
    for line in missing_secrets(settings):
        print(f"tocsin: {line}", file=sys.stderr)
    workers = args.workers or settings.workers
    config = uvicorn_options(settings)
    if args.fd is not None and workers == 1:
        # uvicorn's own fd= takes every inherited socket for a UNIX socket, so TCP_NODELAY
        # is never set and each small response waits ~40 ms for a delayed ACK. A socket
        # object built from the fd knows its real family.
        listener = socket.socket(fileno=args.fd)
        server = uvicorn.Server(uvicorn.Config(create_app(settings), **config))
        server.run(sockets=[listener])
        return 0
    if workers == 1:
        config.update(host=settings.host, port=settings.port)
        uvicorn.run(create_app(settings), **config)
        return 0
    # Workers build their own app from the environment: hand the CLI's overrides down.
    os.environ["TOCSIN_DATABASE_URL"] = settings.database_url
    if not settings.redis_url:
        print(
            "tocsin: without TOCSIN_REDIS_URL, workers learn of each other's publishes by "
            f"polling the store (every {settings.poll_interval}s)",
            file=sys.stderr,
        )
    # Long-polling works across workers: each request reaches its session's worker.
    serve_workers(settings, workers, args.fd)
    return 0


def cmd_checkconfig(args: argparse.Namespace) -> int:
    """Validate settings, reach the database and Redis, and list what is missing."""
    from tocsin.app import create_service

    settings = _settings(args)
    problems: list[str] = []
    print(
        f"settings: ok (database {settings.database_url.split('://')[0]}, "
        f"bus {'redis' if settings.redis_url else 'in-process'})"
    )
    flag = getattr(args, "database_url", None)
    print(f"database: {dblocation.shown(settings.database_url)} ({dblocation.source(flag)})")

    async def reach_database(service: Any) -> None:
        path = dblocation.sqlite_file(settings.database_url)
        if path is not None and not path.exists():
            # Opening it would create it: say what `serve` will do instead.
            if os.access(path.parent, os.W_OK):
                print(f"database: {path} does not exist yet; `tocsin serve` creates it")
            else:
                problems.append(f"database: cannot create {path} (no writable {path.parent})")
            return
        try:
            await service.store.open(migrate=False)
            await service.store.ping()
            print("database: reachable")
        except Exception as exc:
            problems.append(f"database: unreachable ({describe_failure(exc)})")
        finally:
            await service.store.close()

    async def reach() -> None:
        service = create_service(settings)
        await reach_database(service)
        if settings.redis_url:
            await service.bus.start(None)
            try:
                if await service.bus.healthy():
                    print("redis: reachable")
                else:
                    problems.append(f"redis: unreachable at {redact(settings.redis_url)}")
            finally:
                await service.bus.stop()

    asyncio.run(reach())
    if not settings.session_secrets and not settings.jwt_secret and not settings.jwt_public_key:
        problems.append(
            "secrets: none of AUTH_SECRET, NEXTAUTH_SECRET, TOCSIN_JWT_SECRET, "
            "TOCSIN_JWT_PUBLIC_KEY is set: no user can connect"
        )
    else:
        names = [name for name, _ in settings.session_secrets]
        names += ["TOCSIN_JWT_SECRET"] * bool(settings.jwt_secret)
        names += ["TOCSIN_JWT_PUBLIC_KEY"] * bool(settings.jwt_public_key)
        print("user secrets: " + ", ".join(names))
    if not settings.admin_key:
        print("note: TOCSIN_ADMIN_KEY is not set: only tenant keys can publish")
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if problems else 0


def _with_service(
    args: argparse.Namespace, action: Callable[[Any], Awaitable[int]], *, migrate: bool = True
) -> int:
    from tocsin.app import create_service

    settings = _store_settings(args)

    async def run() -> int:
        service = create_service(settings)
        await service.store.open(migrate=migrate)
        await service.bus.start(None)
        try:
            return await action(service)
        finally:
            await service.bus.stop()
            await service.store.close()

    return asyncio.run(run())


def cmd_migrate(args: argparse.Namespace) -> int:
    """Bring the database schema up to date."""

    async def done(_service: Any) -> int:
        print("database is up to date")
        return 0

    return _with_service(args, done)


def cli_actor() -> str:
    """Who runs the command, as the audit log names them: ``cli:<login>`` (``cli`` when the
    system cannot say, e.g. a container's user without a name)."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def cmd_keys(args: argparse.Namespace) -> int:
    """Create, list or revoke publisher API keys (creation and revocation are audited)."""

    async def action(service: Any) -> int:
        if args.keys_command == "create":
            full, record = await service.create_api_key(
                args.tenant, args.name or "", actor=cli_actor()
            )
            print(full)
            print(
                f"key id {record.key_id} for tenant {record.tenant_id}: "
                "store it now, it is not shown again",
                file=sys.stderr,
            )
        elif args.keys_command == "list":
            print("KEY ID\tTENANT\tSTATE\tCREATED\tNAME")
            for record in await service.list_api_keys(args.tenant):
                state = "revoked" if record.revoked_at else "active"
                print(
                    f"{record.key_id}\t{record.tenant_id}\t{state}\t"
                    f"{record.created_at.isoformat()}\t{record.name}"
                )
        else:
            await service.revoke_api_key(args.key_id, actor=cli_actor())
            print(f"revoked {args.key_id}")
        return 0

    return _with_service(args, action)


_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_fields(pairs: Sequence[str]) -> dict[str, Any]:
    """The fields of ``tocsin send`` (``subject=Hello remainingDays=2``) as a dict.

    Raises:
        ValueError: a field is not ``name=value``, or is given twice; the message names it.
    """
    fields: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not _FIELD_NAME.fullmatch(name):
            raise ValueError(
                f"malformed field {pair!r}: expected name=value, e.g. subject=Bonjour "
                "(quote a value with spaces: 'subject=Conclusions adverses')"
            )
        if name in fields or name == "event":
            what = "is the first argument" if name == "event" else "is given twice"
            raise ValueError(f"field {name!r} {what}")
        try:
            # Numbers and JSON literals keep their type (remainingDays=2); the rest is text.
            fields[name] = json.loads(value) if value[:1] in "-0123456789[{tfn" else value
        except ValueError:
            fields[name] = value
    return fields


def cmd_send(args: argparse.Namespace) -> int:
    """Publish one notification straight into the store (running nodes pick it up)."""
    notification = {"event": args.kind, **args.fields}
    if args.tenant:
        notification["tenantId"] = args.tenant
    if args.user:
        notification["userId"] = args.user

    async def action(service: Any) -> int:
        result = await service.publish(notification, Publisher(tenant_id=None, key_id="cli"))
        print(json.dumps(result.to_json()))
        return 0

    return _with_service(args, action)


def cmd_deadlines(args: argparse.Namespace) -> int:
    """Put, list or check deadlines (``check`` is what a system cron runs)."""
    from tocsin.deadlines.service import SCHEDULER, DeadlineService, deadline_to_json

    async def action(service: Any) -> int:
        deadlines = DeadlineService(service)
        if args.deadlines_command == "put":
            body = {
                "dossierNumber": args.dossier,
                "deadlineType": args.type,
                "dueAt": args.due,
                "userId": args.user,
                "tenantId": args.tenant,
                "status": args.status,
            }
            if args.message:
                body["message"] = args.message
            if args.timezone:
                body["timezone"] = args.timezone
            record, created, report = await deadlines.put(args.id, body, SCHEDULER)
            verb = "created" if created else "replaced"
            print(json.dumps({"result": verb, **deadline_to_json(record), **report.to_json()}))
        elif args.deadlines_command == "list":
            records = await deadlines.list_deadlines(
                SCHEDULER,
                args.tenant,
                due_from=args.due_from,
                due_to=args.due_to,
            )
            for record in records:
                print(json.dumps(deadline_to_json(record), ensure_ascii=False))
        else:
            report = await deadlines.check(args.now)
            print(json.dumps(report.to_json()))
        return 0

    return _with_service(args, action)


def cmd_digest(args: argparse.Namespace) -> int:
    """Send the daily digests due at ``--now`` (default: now), as the nodes would."""
    from tocsin.digest import Digests
    from tocsin.jobrunner import JobRunner
    from tocsin.mailing import Mailing

    now = (args.now or datetime.now(UTC)).astimezone(UTC)

    async def action(service: Any) -> int:
        digests = Digests(service, Mailing(service), clock=lambda: now)
        if not digests.enabled:
            raise ConfigError("TOCSIN_SMTP_URL and TOCSIN_MAIL_FROM: set both to send digests")
        written = await digests.plan_today(now)
        runner = JobRunner(
            service.store,
            digests.handlers(),
            poll_interval=1.0,
            lease=service.settings.jobs_lease,
            only_kinds=True,
        )
        ran = await runner.run_due(now)
        print(json.dumps({"planned": written, "run": ran, **dict(digests.outcomes)}))
        return 0

    return _with_service(args, action)


def cmd_token(args: argparse.Namespace) -> int:
    """Print a development JWT signed with ``TOCSIN_JWT_SECRET``."""
    settings = _settings(args)
    if not settings.jwt_secret:
        raise ConfigError("TOCSIN_JWT_SECRET: set it to sign tokens (the server must share it)")
    print(
        mint_jwt(
            settings.jwt_secret,
            user_id=args.user,
            tenant_id=args.tenant,
            role=args.role,
            ttl=args.ttl,
        )
    )
    return 0


def cmd_vapid(args: argparse.Namespace) -> int:
    """Print a new Web Push (VAPID) key pair: the setting, and the browsers' public key."""
    from tocsin.push.vapid import generate

    keys = generate()
    print(f"TOCSIN_VAPID_PRIVATE_KEY={keys.private_key}")
    # A comment line, so that the output can be appended to an env file as it is.
    print(f"# public key (the browsers' applicationServerKey): {keys.public_key}")
    print(
        "tocsin: keep the private key secret; set TOCSIN_VAPID_SUBJECT too "
        "(mailto:you@your-domain or https://your-site)",
        file=sys.stderr,
    )
    return 0


def cmd_checktoken(args: argparse.Namespace) -> int:
    """Say who a token or session cookie belongs to, or exactly why it is refused."""
    from tocsin.auth.claims import describe_expiry
    from tocsin.auth.credentials import Credential, from_text
    from tocsin.auth.errors import AuthError
    from tocsin.auth.identity import Authenticator, Session

    settings = _settings(args)
    text = sys.stdin.read() if args.token == "-" else args.token
    credential = from_text(text)
    if args.cookie_name:
        credential = Credential(credential.value, "cookie", args.cookie_name)
    secrets = ", ".join(name for name, _ in settings.session_secrets) or "none"
    where = f"cookie {credential.cookie_name}" if credential.cookie_name else "a bare token"
    print(f"read as {where}; session secrets configured: {secrets}")

    async def check() -> Session:
        authenticator = Authenticator(settings)
        try:
            return await authenticator.authenticate(credential)
        finally:
            await authenticator.aclose()

    try:
        session = asyncio.run(check())
    except AuthError as exc:
        print(f"refused ({exc.reason}): {exc.diagnosis}")
        return 1
    ident = session.identity
    print(f"accepted: user {ident.user_id}, tenant {ident.tenant_id}, role {ident.role or '-'}")
    print(f"verified as {session.method}; {describe_expiry(session.expires_at)}")
    print("claims: " + json.dumps(session.claims, ensure_ascii=False, sort_keys=True))
    return 0


def _text(value: str) -> str:
    """An argparse type: a value that is not blank (a blank id makes a token nobody can use)."""
    if not value.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return value


def _seconds(value: str) -> int:
    """An argparse type: a whole number of seconds, more than zero."""
    try:
        seconds = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole seconds, got {value!r}") from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {seconds}")
    return seconds


def _instant(value: str) -> datetime:
    """An argparse type: an ISO 8601 time with its UTC offset."""
    example = "e.g. 2026-10-25T00:30+02:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 time with its offset, {example}; got {value!r}"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"needs a UTC offset, {example}; got {value!r}")
    return moment


def _day(value: str) -> date:
    """An argparse type: an ISO 8601 date."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date as YYYY-MM-DD, e.g. 2026-03-10; got {value!r}"
        ) from None


class _CommandsFormatter(argparse.HelpFormatter):
    """argparse's help, with each command and its help on one line.

    argparse measures sub-commands at their parent's indent, one level short of where it
    prints them, so the longest names (checkconfig) had their help pushed to the next line.
    """

    def add_argument(self, action: argparse.Action) -> None:
        """Add ``action``, and make room for its sub-commands at their real indent."""
        super().add_argument(action)
        if action.help is not argparse.SUPPRESS:
            for subaction in self._iter_indented_subactions(action):
                width = len(self._format_action_invocation(subaction)) + self._current_indent
                self._action_max_length = max(self._action_max_length, width)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(
        prog="tocsin",
        description="Tocsin, a self-hosted real-time notification server: publish over HTTP, "
        "deliver over Socket.IO, keep a per-user inbox.",
        epilog="Settings are read from TOCSIN_* variables (README: Settings).",
        formatter_class=_CommandsFormatter,
    )
    sub = parser.add_subparsers(
        dest="command",
        required=True,
        title="commands",
        metavar="COMMAND",
        help="`tocsin COMMAND -h` shows its options",
    )

    def with_db(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--database-url",
            help="the database (TOCSIN_DATABASE_URL; default ./tocsin.db of the current directory)",
        )
        return p

    serve = with_db(sub.add_parser("serve", help="run a Tocsin node"))
    serve.add_argument("--host", help="default 127.0.0.1 (TOCSIN_HOST)")
    serve.add_argument("--port", type=int, help="default 8000 (TOCSIN_PORT)")
    serve.add_argument("--fd", type=int, help="serve on an inherited listening socket")
    serve.add_argument("--workers", type=int, help="processes sharing the port (TOCSIN_WORKERS)")
    serve.set_defaults(func=cmd_serve)

    with_db(sub.add_parser("migrate", help="upgrade the database schema")).set_defaults(
        func=cmd_migrate
    )

    keys = sub.add_parser("keys", help="create, list or revoke publisher API keys")
    keys_sub = keys.add_subparsers(
        dest="keys_command", required=True, title="commands", metavar="COMMAND"
    )
    create = with_db(keys_sub.add_parser("create", help="create a key for a tenant"))
    create.add_argument("--tenant", required=True, type=_text, help="the tenant it publishes to")
    create.add_argument("--name", default="", help="a label, e.g. the app that uses it")
    listing = with_db(keys_sub.add_parser("list", help="list keys (never their secret)"))
    listing.add_argument("--tenant", help="only this tenant's keys")
    revoke = with_db(keys_sub.add_parser("revoke", help="revoke a key by id"))
    revoke.add_argument("key_id", help="the id `keys list` shows (tsk_<id>_…)")
    keys.set_defaults(func=cmd_keys)

    send = with_db(
        sub.add_parser(
            "send",
            help="publish a notification into the store",
            description="Publish one notification. Options and key=value fields go in any order; "
            "numbers and JSON literals keep their type (remainingDays=2).",
        )
    )
    send.add_argument("kind", choices=NOTIFICATION_EVENTS, help="the event")
    send.add_argument("--tenant", type=_text, help="tenantId")
    send.add_argument("--user", type=_text, help="userId (needs --tenant)")
    send.add_argument(
        "fields", nargs="*", metavar="key=value", help="the notification's fields: subject=…"
    )
    # main() completes the fields with those after an option (see parse_fields).
    send.set_defaults(func=cmd_send, fields_parser=send)

    deadlines = sub.add_parser("deadlines", help="put, list or check deadlines")
    deadlines_sub = deadlines.add_subparsers(
        dest="deadlines_command", required=True, title="commands", metavar="COMMAND"
    )
    put = with_db(deadlines_sub.add_parser("put", help="create or replace a deadline"))
    put.add_argument("id", help="the deadline's id, unique within its tenant")
    put.add_argument("--tenant", required=True, type=_text, help="tenantId")
    put.add_argument("--user", required=True, type=_text, help="userId, who is alerted")
    put.add_argument("--dossier", required=True, help="dossier number")
    put.add_argument("--type", required=True, help="deadline type, e.g. OQTF")
    put.add_argument("--due", required=True, help="date (2026-03-10) or datetime with offset")
    put.add_argument("--status", choices=["open", "closed"], default="open", help="default open")
    put.add_argument("--timezone", help="defaults to TOCSIN_TIMEZONE")
    put.add_argument("--message", help="text of the alerts (default: generated)")
    dl_list = with_db(deadlines_sub.add_parser("list", help="list deadlines"))
    dl_list.add_argument("--tenant", help="only this tenant's")
    dl_list.add_argument("--from", dest="due_from", type=_day, help="due on or after (YYYY-MM-DD)")
    dl_list.add_argument("--to", dest="due_to", type=_day, help="due on or before (YYYY-MM-DD)")
    check_dl = with_db(deadlines_sub.add_parser("check", help="publish the alerts due now"))
    check_dl.add_argument(
        "--now", type=_instant, help="the clock to use, with offset: 2026-10-25T00:30+02:00"
    )
    deadlines.set_defaults(func=cmd_deadlines)

    digest = sub.add_parser("digest", help="send the daily e-mail digests")
    digest_sub = digest.add_subparsers(
        dest="digest_command", required=True, title="commands", metavar="COMMAND"
    )
    run_digest = with_db(
        digest_sub.add_parser("run", help="send the digests due now (each user's hour passed)")
    )
    run_digest.add_argument(
        "--now", type=_instant, help="the clock to use, with offset: 2027-03-28T08:00+02:00"
    )
    digest.set_defaults(func=cmd_digest)

    token = sub.add_parser("token", help="print a development JWT for a user")
    token.add_argument("--user", required=True, type=_text, help="userId (claims id and sub)")
    token.add_argument("--tenant", required=True, type=_text, help="tenantId")
    token.add_argument("--role", help="role claim, e.g. lawyer")
    token.add_argument("--ttl", type=_seconds, default=3600, help="seconds (default 3600)")
    token.set_defaults(func=cmd_token)

    checkconfig = with_db(
        sub.add_parser("checkconfig", help="validate settings; reach the database and Redis")
    )
    checkconfig.set_defaults(func=cmd_checkconfig)

    check = sub.add_parser("checktoken", help="say whether a token or cookie is accepted, and why")
    check.add_argument("token", help="a token, a 'name=value; …' cookie header, or - for stdin")
    check.add_argument(
        "--cookie-name",
        help="treat the token as this cookie's value (Auth.js derives keys from it)",
    )
    check.set_defaults(func=cmd_checktoken)
    vapid = sub.add_parser("vapid", help="make the Web Push (VAPID) key")
    vapid_sub = vapid.add_subparsers(
        dest="vapid_command", required=True, title="commands", metavar="COMMAND"
    )
    vapid_sub.add_parser("generate", help="print a new key pair (TOCSIN_VAPID_PRIVATE_KEY=…)")
    vapid.set_defaults(func=cmd_vapid)
    add_privacy_commands(sub, with_db)
    add_demo_command(sub)
    return parser


def _take_fields(args: argparse.Namespace, extra: list[str]) -> None:
    """Parse ``send``'s key=value fields, those after an option (in ``extra``) included,
    into ``args.fields``. Exits with the usage on a malformed field or an unknown option."""
    parser: argparse.ArgumentParser = args.fields_parser
    pairs = [*args.fields, *(item for item in extra if not item.startswith("-"))]
    left = [item for item in extra if item.startswith("-")]
    if left:
        parser.error("unrecognized arguments: " + " ".join(left))
    try:
        args.fields = parse_fields(pairs)
    except ValueError as exc:
        parser.error(str(exc))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line's arguments; exits with the usage (status 2) on a mistake."""
    parser = build_parser()
    # argparse fills a positional list only up to the first option after it:
    # `send email-received --tenant t subject=…` leaves `subject=…` over. parse_intermixed_args
    # would take it, but refuses sub-commands; parse_known_args leaves it for _take_fields.
    args, extra = parser.parse_known_args(argv)
    if getattr(args, "fields_parser", None) is not None:
        _take_fields(args, extra)
    elif extra:
        parser.error("unrecognized arguments: " + " ".join(extra))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tocsin`` command."""
    args = parse_args(argv)
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        print(f"tocsin: {redact(str(exc))}", file=sys.stderr)
        return 2
    except StartupError as exc:
        print(f"tocsin: {exc}", file=sys.stderr)
        return 1
    except TocsinError as exc:
        print(f"tocsin: {exc.message}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
