"""The demo's sign-in picker: choose a member of the firm, get a real Auth.js session cookie."""

from __future__ import annotations

import html
import time
import uuid
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tocsin.auth.nextauth import encrypt_session_token
from tocsin.demo.data import TENANT_ID, TENANT_NAME, USERS, DemoUser

COOKIE = "authjs.session-token"
SESSION_SECONDS = 30 * 24 * 3600  # Auth.js's default maxAge


def session_claims(user: DemoUser, now: float | None = None) -> dict[str, Any]:
    """The claims Auth.js puts in a session token, with the app's tenant added in callbacks."""
    issued = int(now if now is not None else time.time())
    return {
        "name": user.name,
        "email": user.email,
        "sub": user.id,
        "id": user.id,
        "tenantId": TENANT_ID,
        "tenantName": TENANT_NAME,
        "role": user.role,
        "iat": issued,
        "exp": issued + SESSION_SECONDS,
        "jti": str(uuid.uuid4()),
    }


_PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Connexion — {tenant}</title>
<link rel="icon" href="data:,">
<style>
body{{margin:0;min-height:100vh;display:grid;place-items:center;background:#f1f5f9;
  font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#0f172a}}
main{{width:min(440px,calc(100vw - 32px));background:#fff;border:1px solid #e2e8f0;
  border-radius:14px;  padding:28px;box-shadow:0 20px 40px -16px rgba(15,23,42,.2)}}
h1{{margin:0;font-size:20px}} p{{color:#475569;margin:.4rem 0 1.2rem;line-height:1.5}}
form{{margin:0}} button{{width:100%;display:flex;align-items:center;gap:12px;text-align:left;
  padding:12px 14px;margin:8px 0;border:1px solid #e2e8f0;border-radius:10px;background:#fff;
  font:inherit;cursor:pointer}}
button:hover,button:focus-visible{{border-color:#2563eb;background:#f8fbff;outline:none}}
.avatar{{flex:none;width:38px;height:38px;border-radius:9999px;display:grid;place-items:center;
  background:#dbeafe;color:#1d4ed8;font-weight:700}}
strong{{display:block}} small{{color:#64748b}}
footer{{margin-top:1rem;font-size:12px;color:#94a3b8}}
</style></head>
<body><main>
<h1>{tenant}</h1>
<p>Démo Tocsin — choisissez la personne sous le nom de laquelle vous connecter.
Chaque onglet ouvert montre ses notifications en direct.</p>
{buttons}
<footer>Un vrai cookie de session Auth.js ({cookie}) est posé pour l'utilisateur choisi.</footer>
</main></body></html>"""

_BUTTON = """<form method="post" action="/signin"><input type="hidden" name="user" value="{id}">
<button type="submit" data-user="{id}"><span class="avatar">{initials}</span>
<span><strong>{name}</strong><small>{title} · {email}</small></span></button></form>"""


def _initials(name: str) -> str:
    words = [w for w in name.replace("Me ", "").split() if w]
    return "".join(w[0] for w in words[:2]).upper()


def picker_page() -> str:
    """The sign-in picker's HTML."""
    buttons = "\n".join(
        _BUTTON.format(
            id=html.escape(u.id),
            initials=html.escape(_initials(u.name)),
            name=html.escape(u.name),
            title=html.escape(u.title),
            email=html.escape(u.email),
        )
        for u in USERS
    )
    return _PAGE.format(tenant=html.escape(TENANT_NAME), buttons=buttons, cookie=COOKIE)


def add_signin_routes(api: FastAPI, secret: str) -> None:
    """``GET /signin`` (the picker), ``POST /signin`` (sets the cookie), ``GET /signout``."""
    api.state.signin_url = "/signin"
    api.state.signout_url = "/signout"

    async def picker() -> HTMLResponse:
        return HTMLResponse(picker_page())

    async def sign_in(request: Request) -> Response:
        # A plain form post (no multipart parser needed for one field).
        fields = parse_qs((await request.body())[:4096].decode("utf-8", "replace"))
        user = (fields.get("user") or [""])[0]
        found = next((u for u in USERS if u.id == user), None)
        if found is None:
            return HTMLResponse(picker_page(), status_code=400)
        token = encrypt_session_token(session_claims(found), secret, cookie_name=COOKIE)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            COOKIE, token, max_age=SESSION_SECONDS, path="/", httponly=True, samesite="lax"
        )
        return response

    async def sign_out() -> Response:
        response = RedirectResponse("/signin", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    api.add_api_route("/signin", picker, methods=["GET"], include_in_schema=False)
    api.add_api_route("/signin", sign_in, methods=["POST"], include_in_schema=False)
    api.add_api_route("/signout", sign_out, methods=["GET"], include_in_schema=False)
