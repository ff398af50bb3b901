"""``tocsin`` command line: serve, migrate, keys, send, token."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from tocsin.auth.apikeys import Publisher
from tocsin.auth.jwt import mint_jwt
from tocsin.config import ConfigError, Settings, load_settings
from tocsin.demo import add_demo_command
from tocsin.errors import TocsinError
from tocsin.models import NOTIFICATION_EVENTS
from tocsin.redact import redact


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        "host": getattr(args, "host", None),
        "port": getattr(args, "port", None),
        "database_url": getattr(args, "database_url", None),
    }
    return load_settings(**overrides)


def cmd_serve(args: argparse.Namespace) -> int:
    """Run a node with uvicorn (``--workers N``: N processes sharing the port)."""
    import uvicorn

    from tocsin.app import create_app
    from tocsin.serving import uvicorn_options

    settings = _settings(args)
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
    if args.fd is not None:
        config["fd"] = args.fd
    else:
        config.update(host=settings.host, port=settings.port)
    if workers == 1:
        uvicorn.run(create_app(settings), **config)
        return 0
    # Workers build their own app from the environment: hand the CLI's overrides down.
    os.environ["TOCSIN_DATABASE_URL"] = settings.database_url
    if not settings.websocket_only:
        # The kernel spreads connections over workers; long-polling needs sticky sessions.
        print(
            "tocsin: --workers > 1 serves WebSocket only (TOCSIN_WEBSOCKET_ONLY)", file=sys.stderr
        )
        os.environ["TOCSIN_WEBSOCKET_ONLY"] = "true"
    if not settings.redis_url:
        print(
            "tocsin: without TOCSIN_REDIS_URL, workers learn of each other's publishes by "
            f"polling the store (every {settings.poll_interval}s)",
            file=sys.stderr,
        )
    uvicorn.run("tocsin.app:create_app", factory=True, workers=workers, **config)
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

    async def reach() -> None:
        service = create_service(settings)
        try:
            await service.store.open(migrate=False)
            await service.store.ping()
            print("database: reachable")
        except Exception as exc:
            problems.append(f"database: unreachable ({type(exc).__name__}: {redact(str(exc))})")
        finally:
            await service.store.close()
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

    async def run() -> int:
        service = create_service(_settings(args))
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


def cmd_keys(args: argparse.Namespace) -> int:
    """Create, list or revoke publisher API keys."""

    async def action(service: Any) -> int:
        if args.keys_command == "create":
            full, record = await service.create_api_key(args.tenant, args.name or "")
            print(full)
            print(
                f"key id {record.key_id} for tenant {record.tenant_id}: "
                "store it now, it is not shown again",
                file=sys.stderr,
            )
        elif args.keys_command == "list":
            for record in await service.list_api_keys(args.tenant):
                state = "revoked" if record.revoked_at else "active"
                print(
                    f"{record.key_id}\t{record.tenant_id}\t{state}\t"
                    f"{record.created_at.isoformat()}\t{record.name}"
                )
        else:
            await service.revoke_api_key(args.key_id)
            print(f"revoked {args.key_id}")
        return 0

    return _with_service(args, action)


def _parse_fields(pairs: Sequence[str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise TocsinError(f"expected key=value, got {pair!r}", field=pair)
        try:
            # Numbers and JSON literals keep their type (remainingDays=2); the rest is text.
            fields[name] = json.loads(value) if value[:1] in "-0123456789[{tfn" else value
        except ValueError:
            fields[name] = value
    return fields


def cmd_send(args: argparse.Namespace) -> int:
    """Publish one notification straight into the store (running nodes pick it up)."""
    notification = {"event": args.kind, **_parse_fields(args.fields)}
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
    from datetime import date, datetime

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
                due_from=date.fromisoformat(args.due_from) if args.due_from else None,
                due_to=date.fromisoformat(args.due_to) if args.due_to else None,
            )
            for record in records:
                print(json.dumps(deadline_to_json(record), ensure_ascii=False))
        else:
            now = datetime.fromisoformat(args.now) if args.now else None
            if now is not None and now.tzinfo is None:
                raise TocsinError("--now needs an offset, e.g. 2026-10-25T00:30+02:00", field="now")
            report = await deadlines.check(now)
            print(json.dumps(report.to_json()))
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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(prog="tocsin", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def with_db(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--database-url", help="overrides TOCSIN_DATABASE_URL")
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

    keys = sub.add_parser("keys", help="manage publisher API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = with_db(keys_sub.add_parser("create", help="create a key for a tenant"))
    create.add_argument("--tenant", required=True)
    create.add_argument("--name", default="")
    listing = with_db(keys_sub.add_parser("list", help="list keys"))
    listing.add_argument("--tenant")
    revoke = with_db(keys_sub.add_parser("revoke", help="revoke a key by id"))
    revoke.add_argument("key_id")
    keys.set_defaults(func=cmd_keys)

    send = with_db(sub.add_parser("send", help="publish a notification"))
    send.add_argument("kind", choices=NOTIFICATION_EVENTS)
    send.add_argument("--tenant")
    send.add_argument("--user")
    send.add_argument("fields", nargs="*", metavar="key=value")
    send.set_defaults(func=cmd_send)

    deadlines = sub.add_parser("deadlines", help="the deadline registry and its check")
    deadlines_sub = deadlines.add_subparsers(dest="deadlines_command", required=True)
    put = with_db(deadlines_sub.add_parser("put", help="create or replace a deadline"))
    put.add_argument("id")
    put.add_argument("--tenant", required=True)
    put.add_argument("--user", required=True)
    put.add_argument("--dossier", required=True, help="dossier number")
    put.add_argument("--type", required=True, help="deadline type, e.g. OQTF")
    put.add_argument("--due", required=True, help="date (2026-03-10) or datetime with offset")
    put.add_argument("--status", choices=["open", "closed"], default="open")
    put.add_argument("--timezone", help="defaults to TOCSIN_TIMEZONE")
    put.add_argument("--message")
    dl_list = with_db(deadlines_sub.add_parser("list", help="list deadlines"))
    dl_list.add_argument("--tenant")
    dl_list.add_argument("--from", dest="due_from", help="due on or after (YYYY-MM-DD)")
    dl_list.add_argument("--to", dest="due_to", help="due on or before (YYYY-MM-DD)")
    check_dl = with_db(deadlines_sub.add_parser("check", help="publish the alerts due now"))
    check_dl.add_argument("--now", help="the clock to use, e.g. 2026-10-25T00:30+02:00")
    deadlines.set_defaults(func=cmd_deadlines)

    token = sub.add_parser("token", help="print a development JWT for a user")
    token.add_argument("--user", required=True)
    token.add_argument("--tenant", required=True)
    token.add_argument("--role")
    token.add_argument("--ttl", type=int, default=3600, help="seconds (default 3600)")
    token.set_defaults(func=cmd_token)

    checkconfig = with_db(
        sub.add_parser("checkconfig", help="validate settings and reach the database and Redis")
    )
    checkconfig.set_defaults(func=cmd_checkconfig)

    check = sub.add_parser(
        "checktoken", help="explain whether a token or session cookie is accepted, and why"
    )
    check.add_argument("token", help="a token, a 'name=value; …' cookie header, or - for stdin")
    check.add_argument(
        "--cookie-name",
        help="treat the token as this cookie's value (Auth.js derives keys from it)",
    )
    check.set_defaults(func=cmd_checktoken)
    add_demo_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tocsin`` command."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        print(f"tocsin: {redact(str(exc))}", file=sys.stderr)
        return 2
    except TocsinError as exc:
        print(f"tocsin: {exc.message}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
