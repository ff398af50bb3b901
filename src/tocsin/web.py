"""The built-in page: the NotificationCenter of the signed-in user, served at ``/``.

The page and its assets are built from ``clients/js`` into ``tocsin/web/`` (by ``make``, or by
the wheel's build hook); they are not committed. ``GET /web/session`` tells the page who the
session cookie belongs to. The Web Push service worker is served at ``/tocsin-sw.js``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.staticfiles import NotModifiedResponse

from tocsin.api.deps import user_session_of
from tocsin.api.security_headers import page_headers
from tocsin.auth.errors import AuthError

WEB_DIR = Path(__file__).parent / "web"

_NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>Tocsin</title>
<h1>Tocsin</h1><p>The web page is not built. Run <code>make web</code>
(or <code>npm ci &amp;&amp; npm run build</code> in <code>clients/js</code>), then reload.</p>
<p>The API is at <a href="/docs">/docs</a>.</p>"""

SERVICE_WORKER = "tocsin-sw.js"
# A worker's scope is its folder unless its answer allows more: this one may control the
# whole origin. no-cache: browsers revalidate it, so a new version is picked up at once.
_WORKER_HEADERS = {"Service-Worker-Allowed": "/", "Cache-Control": "no-cache"}

# Claims worth showing on the page, as Auth.js puts them in its session tokens.
_PROFILE_CLAIMS = ("name", "email", "picture", "tenantName")


def mount_web(api: FastAPI, web_dir: Path = WEB_DIR) -> None:
    """Serve the page at ``/``, its assets at ``/assets/``, ``GET /web/session`` and the
    service worker at ``/tocsin-sw.js`` (root scope allowed, revalidated on every check).

    An app that offers sign-in (``tocsin demo``) sets ``api.state.signin_url`` (and
    ``signout_url``); the page links to it when no session is found. The page is sent with
    its Content-Security-Policy and may not be framed.
    """

    async def index(request: Request) -> Response:
        headers = page_headers(request.headers.get("host"))
        page = web_dir / "index.html"
        if not page.is_file():
            return HTMLResponse(_NOT_BUILT, status_code=503, headers=headers)
        return FileResponse(page, headers={**headers, "Cache-Control": "no-cache"})

    async def session(request: Request) -> JSONResponse:
        links = {
            "signinUrl": getattr(request.app.state, "signin_url", None),
            "signoutUrl": getattr(request.app.state, "signout_url", None),
        }
        try:
            found = await user_session_of(request)
        except AuthError as exc:
            body = {"error": "unauthorized", "reason": exc.reason, "message": exc.detail}
            return JSONResponse({**body, **links}, status_code=401)
        return JSONResponse(session_view(found.identity, found.claims, links))

    async def service_worker(request: Request) -> Response:
        script = web_dir / "assets" / SERVICE_WORKER
        try:
            stat = script.stat()
        except FileNotFoundError:
            return PlainTextResponse("the service worker is not built: run make web", 404)
        response = FileResponse(
            script,
            media_type="text/javascript; charset=utf-8",
            headers=_WORKER_HEADERS,
            stat_result=stat,
        )
        # Browsers check for a new version on every visit: an unchanged one costs a 304.
        if response.headers["etag"] in _etags(request.headers.get("if-none-match", "")):
            return NotModifiedResponse(response.headers)
        return response

    api.add_api_route("/", index, methods=["GET"], include_in_schema=False)
    api.add_api_route(
        f"/{SERVICE_WORKER}", service_worker, methods=["GET"], include_in_schema=False
    )
    api.add_api_route("/web/session", session, methods=["GET"], include_in_schema=False)
    api.mount(
        "/assets", StaticFiles(directory=web_dir / "assets", check_dir=False), name="web-assets"
    )


def _etags(if_none_match: str) -> list[str]:
    return [tag.strip().removeprefix("W/") for tag in if_none_match.split(",") if tag.strip()]


def session_view(identity: Any, claims: dict[str, Any], links: dict[str, Any]) -> dict[str, Any]:
    """What the page shows of a session: ids, role, profile claims and the sign-in links."""
    view: dict[str, Any] = {
        "userId": identity.user_id,
        "tenantId": identity.tenant_id,
        "role": identity.role,
    }
    for name in _PROFILE_CLAIMS:
        value = claims.get(name)
        view[name] = value if isinstance(value, str) else None
    return {**view, **links}
