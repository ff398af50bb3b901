"""``tocsin demo``: the sub-command, and the demo app around a regular Tocsin node."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tocsin.config import Settings, load_settings
from tocsin.redact import redact


def build_demo_app(
    settings: Settings, secret: str, *, interval: float = 8.0, seed: int | None = None
) -> Any:
    """A regular Tocsin app plus the sign-in picker, the firm's data and the stream."""
    from tocsin.app import create_app
    from tocsin.demo.previews import add_preview_routes
    from tocsin.demo.signin import add_signin_routes
    from tocsin.demo.stream import run_stream, seed_firm

    app = create_app(settings)
    api = getattr(app, "other_asgi_app", app)
    add_signin_routes(api, secret)
    add_preview_routes(api, api.state.service)
    inner = api.router.lifespan_context

    @asynccontextmanager
    async def lifespan(asgi_app: Any) -> AsyncIterator[Any]:
        async with inner(asgi_app) as state:
            service, deadlines = api.state.service, api.state.deadlines
            await seed_firm(service, deadlines, settings.timezone)
            task = None
            if interval > 0:
                task = asyncio.create_task(
                    run_stream(service, deadlines, settings.timezone, interval, seed),
                    name="tocsin-demo-stream",
                )
            try:
                yield state
            finally:
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    api.router.lifespan_context = lifespan
    return app


def demo_settings(
    database_url: str, host: str | None, port: int | None
) -> tuple[Settings, str, bool]:
    """Settings for the demo, the session secret, and whether that secret was generated.

    ``AUTH_SECRET`` (or another session secret) from the environment is used when set;
    otherwise one is generated for this run.
    """
    base = load_settings(host=host, port=port, database_url=database_url)
    if base.session_secrets:
        return base, base.session_secrets[0][1], False
    secret = secrets.token_urlsafe(32)
    return (
        load_settings(host=host, port=port, database_url=database_url, auth_secret=secret),
        secret,
        True,
    )


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the demo until interrupted."""
    import uvicorn

    from tocsin.demo.data import TENANT_NAME
    from tocsin.serving import uvicorn_options
    from tocsin.startup import ensure_port_free

    with contextlib.ExitStack() as stack:
        url = args.database_url
        if not url:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="tocsin-demo-"))
            url = f"sqlite+aiosqlite:///{folder}/demo.db"
        settings, secret, generated = demo_settings(url, args.host, args.port)
        ensure_port_free(settings.host, settings.port)
        app = build_demo_app(settings, secret, interval=args.interval, seed=args.seed)
        where = f"http://{settings.host}:{settings.port}/"
        print(f"Tocsin demo — {TENANT_NAME}")
        print(f"  open {where} and pick a user; open a second tab to see read state follow")
        print(
            f"  database: {redact(url)}"
            + ("" if args.database_url else " (fresh, removed at exit)")
        )
        print(
            "  session secret: "
            + ("generated for this run" if generated else "from the environment")
        )
        if args.interval > 0:
            print(f"  a notification about every {args.interval:g} s; Ctrl+C to stop")
        options = uvicorn_options(settings)
        options["log_level"] = settings.log_level if settings.log_level != "info" else "warning"
        uvicorn.run(app, host=settings.host, port=settings.port, **options)
    return 0


def add_demo_command(sub: Any) -> None:
    """Register ``tocsin demo`` on the CLI's sub-parsers."""
    demo = sub.add_parser(
        "demo",
        help="run a demo law firm with live notifications",
        description="Run a demo law firm: a sign-in picker and a stream of live notifications.",
    )
    demo.add_argument("--host", help="default 127.0.0.1 (TOCSIN_HOST)")
    demo.add_argument("--port", type=int, help="default 8000 (TOCSIN_PORT)")
    demo.add_argument(
        "--database-url", help="keep the demo's data there (default: a fresh SQLite file)"
    )
    demo.add_argument(
        "--interval", type=float, default=8.0, help="seconds between notifications (0: none)"
    )
    demo.add_argument("--seed", type=int, help="seed of the random stream (repeatable runs)")
    demo.set_defaults(func=cmd_demo)
