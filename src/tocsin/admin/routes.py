"""The operator page at ``/admin``: sign-in with the admin key, the dashboard, its JSON
endpoints (``/admin/api/…``, cookie only) and its script and stylesheet.

Every response is ``no-store``; pages carry a policy that allows scripts and styles from
this server only (the page's script is a file, never inline) and no framing.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from tocsin.admin.overview import LEVELS, Operations
from tocsin.admin.session import (
    COOKIE,
    COOKIE_PATH,
    CSRF_HEADER,
    SESSION_SECONDS,
    AdminSession,
    SessionSigner,
    SignInLimiter,
    is_https,
    require_same_origin,
)
from tocsin.admin.wording import WORDS, Lang, pick_lang
from tocsin.api.deps import json_body, service_of
from tocsin.auth.apikeys import is_admin_key
from tocsin.errors import (
    Forbidden,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
    UnsupportedMediaType,
)
from tocsin.models import NOTIFICATION_EVENTS

log = logging.getLogger("tocsin.admin")

STATIC_DIR = Path(__file__).parent / "static"
# A sign-in or sign-out form is a few fields: anything longer is not one.
_MAX_FORM_BYTES = 4096
_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": _POLICY,
    "X-Frame-Options": "DENY",
    # Not no-referrer: with it, browsers send "Origin: null" on the page's own writes.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_NO_STORE = {"Cache-Control": "no-store"}

_templates = Environment(
    loader=PackageLoader("tocsin.admin", "templates"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
)


def _lang(request: Request, form: dict[str, str] | None = None) -> Lang:
    asked = (form or {}).get("lang") or request.query_params.get("lang")
    return pick_lang(asked, request.headers.get("accept-language"))


def _page(name: str, lang: Lang, status: int = 200, **context: Any) -> HTMLResponse:
    template = _templates.get_template(name)
    context.setdefault("csrf", None)
    body = template.render(
        lang=lang, other_lang="en" if lang == "fr" else "fr", w=WORDS[lang], **context
    )
    return HTMLResponse(body, status_code=status, headers=PAGE_HEADERS)


async def _form(request: Request) -> dict[str, str]:
    """A small ``application/x-www-form-urlencoded`` body (no multipart parser needed).

    Raises:
        UnsupportedMediaType: another content type.
        PayloadTooLarge: longer than a sign-in form can be.
    """
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise UnsupportedMediaType("send the page's form", field="Content-Type")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > _MAX_FORM_BYTES:
            raise PayloadTooLarge("a sign-in form is smaller than this", field="body")
    fields = parse_qs(raw.decode("utf-8", "replace"), max_num_fields=10)
    return {name: values[0] for name, values in fields.items() if values}


class AdminPages:
    """The routes' shared state: the session signer, the sign-in limiter, the use cases."""

    def __init__(self, api: FastAPI) -> None:
        self.api = api
        self.limiter = SignInLimiter()
        self._signer: SessionSigner | None = None
        self._signer_key: str | None = None

    def signer(self, request: Request) -> SessionSigner | None:
        """The signer of the node's admin key (None: no admin key, the page is closed)."""
        key = service_of(request).settings.admin_key
        if not key:
            return None
        if self._signer is None or self._signer_key != key:
            self._signer, self._signer_key = SessionSigner(key), key
        return self._signer

    def operations(self, request: Request) -> Operations:
        """The page's use cases over this node's service and cluster presence."""
        dispatcher = request.app.state.dispatcher
        return Operations(service_of(request), dispatcher.presence)

    def session(self, request: Request) -> AdminSession | None:
        """The operator signed in by this request's cookie, if any."""
        signer = self.signer(request)
        if signer is None:
            return None
        return signer.verify(request.cookies.get(COOKIE))

    def require(self, request: Request) -> AdminSession:
        """The signed-in operator; a write must also come from the page, with its token.

        Raises:
            Unauthorized: no valid session cookie.
            Forbidden: a write from another origin, or without the session's CSRF token.
        """
        session = self.session(request)
        if session is None:
            raise Unauthorized("sign in at /admin with the admin key", field="cookie")
        if request.method not in ("GET", "HEAD"):
            require_same_origin(request.method, request.url.scheme, request.headers)
            signer = self.signer(request)
            assert signer is not None  # a session was verified with it
            if not signer.csrf_matches(session, request.headers.get(CSRF_HEADER)):
                raise Forbidden("missing or wrong X-CSRF-Token", field="X-CSRF-Token")
        return session


def mount_admin(api: FastAPI) -> None:
    """Add ``/admin`` (page, sign-in, sign-out), ``/admin/api/…`` and ``/admin/assets/``."""
    pages = AdminPages(api)

    async def index(request: Request) -> Response:
        lang = _lang(request)
        signer = pages.signer(request)
        if signer is None:
            return _page("signin.html", lang, 503, closed=True, error=None)
        session = signer.verify(request.cookies.get(COOKIE))
        if session is None:
            return _page("signin.html", lang, closed=False, error=None)
        operations = pages.operations(request)
        return _page(
            "dashboard.html",
            lang,
            csrf=signer.csrf_token(session),
            node_id=operations.presence.node_id,
            connections=operations.connections(),
            publishes=await operations.publishes(),
            notifications=await operations.notifications(),
            jobs=await operations.jobs(),
            events=NOTIFICATION_EVENTS[::-1],  # system-notification first
            levels=LEVELS,
        )

    async def sign_in(request: Request) -> Response:
        require_same_origin(request.method, request.url.scheme, request.headers)
        form = await _form(request)
        lang = _lang(request, form)
        signer = pages.signer(request)
        if signer is None:
            return _page("signin.html", lang, 503, closed=True, error=None)
        client = request.client.host if request.client else "?"
        try:
            pages.limiter.spend(client)
        except RateLimited as exc:
            refused = _page("signin.html", lang, 429, closed=False, error=WORDS[lang]["too_many"])
            refused.headers["Retry-After"] = str(exc.retry_after)
            return refused
        presented = form.get("key", "")
        if not is_admin_key(presented, service_of(request).settings.admin_key):
            log.warning("operator sign-in refused from %s", client)
            return _page("signin.html", lang, 401, closed=False, error=WORDS[lang]["wrong_key"])
        token, _session = signer.issue()
        log.info("operator signed in from %s", client)
        response = RedirectResponse(f"/admin?lang={lang}", status_code=303, headers=_NO_STORE)
        response.set_cookie(
            COOKIE,
            token,
            max_age=SESSION_SECONDS,
            path=COOKIE_PATH,
            httponly=True,
            samesite="strict",
            secure=is_https(request.url.scheme, request.headers),
        )
        return response

    async def sign_out(request: Request) -> Response:
        require_same_origin(request.method, request.url.scheme, request.headers)
        form = await _form(request)
        session = pages.session(request)
        signer = pages.signer(request)
        if (
            session is not None
            and signer is not None
            and not signer.csrf_matches(session, form.get("csrf"))
        ):
            raise Forbidden("missing or wrong csrf field", field="csrf")
        response = RedirectResponse(
            f"/admin?lang={_lang(request, form)}", status_code=303, headers=_NO_STORE
        )
        response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")
        return response

    async def connections(request: Request) -> JSONResponse:
        pages.require(request)
        return JSONResponse(pages.operations(request).connections(), headers=_NO_STORE)

    async def publishes(request: Request) -> JSONResponse:
        pages.require(request)
        return JSONResponse(await pages.operations(request).publishes(), headers=_NO_STORE)

    async def notifications(request: Request) -> JSONResponse:
        pages.require(request)
        return JSONResponse(await pages.operations(request).notifications(), headers=_NO_STORE)

    async def jobs(request: Request) -> JSONResponse:
        pages.require(request)
        return JSONResponse(await pages.operations(request).jobs(), headers=_NO_STORE)

    async def publish(request: Request) -> JSONResponse:
        pages.require(request)
        media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media_type != "application/json":
            raise UnsupportedMediaType("send JSON", field="Content-Type")
        published = await pages.operations(request).publish(await json_body(request))
        return JSONResponse(published.to_json(), status_code=202, headers=_NO_STORE)

    route = api.add_api_route
    route("/admin", index, methods=["GET"], include_in_schema=False)
    route("/admin/signin", sign_in, methods=["POST"], include_in_schema=False)
    route("/admin/signout", sign_out, methods=["POST"], include_in_schema=False)
    route("/admin/api/connections", connections, methods=["GET"], include_in_schema=False)
    route("/admin/api/publishes", publishes, methods=["GET"], include_in_schema=False)
    route("/admin/api/notifications", notifications, methods=["GET"], include_in_schema=False)
    route("/admin/api/jobs", jobs, methods=["GET"], include_in_schema=False)
    route("/admin/api/publish", publish, methods=["POST"], include_in_schema=False)
    api.mount("/admin/assets", StaticFiles(directory=STATIC_DIR), name="admin-assets")
