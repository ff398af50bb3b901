"""``tocsin users erase|export`` and ``tocsin retention purge`` (DESIGN §9): the operator's
side of the same use cases as the HTTP API."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from tocsin.auth.apikeys import Publisher

# Who the audit log says acted, for what the CLI does.
CLI_PUBLISHER = Publisher(tenant_id=None, key_id="cli")


def cmd_users(args: argparse.Namespace) -> int:
    """Erase or export one user's data."""
    from tocsin.cli import _with_service

    async def action(service: Any) -> int:
        if args.users_command == "erase":
            counts = await service.erase_user(CLI_PUBLISHER, args.tenant, args.user)
            print(json.dumps({"erased": counts}))
            return 0
        pieces = await service.export_user(CLI_PUBLISHER, args.tenant, args.user)
        async for piece in pieces:
            sys.stdout.write(piece)
        sys.stdout.write("\n")
        return 0

    return _with_service(args, action)


def cmd_retention(args: argparse.Namespace) -> int:
    """Purge what is older than its retention now (or at ``--now``)."""
    from tocsin.cli import _with_service
    from tocsin.retention import Retention

    async def action(service: Any) -> int:
        report = await Retention(service).purge(args.now)
        print(json.dumps(report.to_json()))
        return 0

    return _with_service(args, action)


def add_privacy_commands(
    sub: Any, with_db: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]
) -> None:
    """Register ``users`` and ``retention`` on the CLI's sub-parsers."""
    from tocsin.cli import _instant, _text

    users = sub.add_parser("users", help="erase or export one user's data (GDPR)")
    users_sub = users.add_subparsers(
        dest="users_command", required=True, title="commands", metavar="COMMAND"
    )
    erase = with_db(
        users_sub.add_parser(
            "erase",
            help="delete everything of a user; print the counts",
            description="Delete a user's own notifications, their states of the firm's, "
            "preferences, profile, push subscriptions, deliveries, jobs and deadlines; "
            "disconnect their sockets (on every node, with TOCSIN_REDIS_URL); leave an audit "
            "entry without their id.",
        )
    )
    export = with_db(users_sub.add_parser("export", help="print everything of a user as JSON"))
    for command in (erase, export):
        command.add_argument("--tenant", required=True, type=_text, help="tenantId")
        command.add_argument("--user", required=True, type=_text, help="userId")
    users.set_defaults(func=cmd_users)

    retention = sub.add_parser("retention", help="purge notifications past their retention")
    retention_sub = retention.add_subparsers(
        dest="retention_command", required=True, title="commands", metavar="COMMAND"
    )
    purge = with_db(
        retention_sub.add_parser(
            "purge",
            help="delete what is older than its retention (what the daily job does)",
        )
    )
    purge.add_argument(
        "--now", type=_instant, help="the clock to use, with offset: 2026-10-25T00:30+02:00"
    )
    retention.set_defaults(func=cmd_retention)
