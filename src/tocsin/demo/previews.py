"""What the demo firm's lawyers would receive beyond the tab (DESIGN §8), shown in the
browser: ``/demo/mail`` lists them; ``/demo/mail/digest?user=…`` is the user's daily digest
of their unread notifications (``&format=text`` its text part); ``/demo/mail/alert?user=…``
the e-mail of their newest unread deadline alert; ``/demo/push?user=…`` the push the
service worker would show, with its JSON payload.

The demo's data is made up and anyone may sign in as anyone, so these pages need no
sign-in; a regular node has none of them.
"""

from __future__ import annotations

import html
import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from tocsin.demo.data import TENANT_ID, TENANT_NAME, USERS
from tocsin.escalation import Escalation
from tocsin.mail import MailContext, render_digest, render_notification
from tocsin.models import Identity
from tocsin.service import NotificationService
from tocsin.store.base import InboxItem

MOST_ITEMS = 200

_INDEX = """<!doctype html><html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>Tocsin — aperçus des e-mails et des push</title>
<style>body{{font:15px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;
color:#0f172a}}li{{margin:.4rem 0}}small{{color:#64748b}}</style></head><body>
<h1>{firm}</h1><p>Ce que chaque personne recevrait hors de l'onglet : le récapitulatif
quotidien, l'e-mail d'un délai critique non lu, et la notification push.</p><ul>{rows}</ul>
<p><small>Aperçus de la démo : données fictives.</small></p></body></html>"""

_ROW = """<li><strong>{name}</strong> <small>{email}</small><br>
<a href="/demo/mail/digest?user={id}" data-preview="digest">Récapitulatif</a> ·
<a href="/demo/mail/digest?user={id}&amp;format=text">texte</a> ·
<a href="/demo/mail/alert?user={id}" data-preview="alert">E-mail d'alerte</a> ·
<a href="/demo/push?user={id}" data-preview="push">Push</a></li>"""

_PUSH = """<!doctype html><html lang="fr"><head><meta charset="utf-8">
<title>Push — {title}</title><style>body{{font:14px/1.4 system-ui,sans-serif;background:#e2e8f0;
padding:2rem}}.toast{{max-width:24rem;background:#fff;border-radius:12px;padding:1rem;
box-shadow:0 8px 24px rgba(15,23,42,.2)}}.app{{color:#64748b;font-size:12px}}
.critical{{border-left:4px solid #dc2626}}pre{{background:#0f172a;color:#e2e8f0;padding:1rem;
border-radius:8px;overflow:auto}}</style></head><body>
<div class="toast{critical}" data-testid="push-preview"><div class="app">Tocsin · {firm}</div>
<strong>{title}</strong><div>{body}</div>{sticky}</div>
<h2>Charge utile chiffrée vers le navigateur</h2><pre>{payload}</pre></body></html>"""


def _user(request: Request) -> Identity | None:
    wanted = request.query_params.get("user", "")
    found = next((u for u in USERS if u.id == wanted), None)
    return Identity(TENANT_ID, found.id) if found else None


def _not_found() -> Response:
    return HTMLResponse("<p>Utilisateur inconnu de la démo.</p>", status_code=404)


def add_preview_routes(api: FastAPI, service: NotificationService) -> None:
    """Register the preview pages on the demo app."""
    escalation = Escalation(service)

    def context() -> MailContext:
        return MailContext(
            firm=TENANT_NAME,
            app_url=service.settings.app_url or "http://127.0.0.1:8000/",
            locale="fr",
            timezone=service.settings.timezone,
        )

    async def unread(identity: Identity) -> list[InboxItem]:
        return await service.store.inbox(
            identity, limit=MOST_ITEMS, before=None, event=None, unread_only=True
        )

    async def index() -> HTMLResponse:
        rows = "\n".join(
            _ROW.format(id=html.escape(u.id), name=html.escape(u.name), email=html.escape(u.email))
            for u in USERS
        )
        return HTMLResponse(_INDEX.format(firm=html.escape(TENANT_NAME), rows=rows))

    async def digest(request: Request) -> Response:
        identity = _user(request)
        if identity is None:
            return _not_found()
        items = await unread(identity)
        if not items:
            return HTMLResponse("<p>Rien de non lu : pas de récapitulatif aujourd'hui.</p>")
        mail = render_digest([i.notification for i in items], context(), unsubscribe_url="#")
        if request.query_params.get("format") == "text":
            return PlainTextResponse(f"Objet : {mail.subject}\n\n{mail.text}")
        return HTMLResponse(mail.html)

    async def alert(request: Request) -> Response:
        identity = _user(request)
        if identity is None:
            return _not_found()
        critical = [i for i in await unread(identity) if i.notification.critical]
        if not critical:
            return HTMLResponse("<p>Aucune alerte critique non lue : pas d'e-mail.</p>")
        return HTMLResponse(render_notification(critical[0].notification, context()).html)

    async def push(request: Request) -> Response:
        identity = _user(request)
        if identity is None:
            return _not_found()
        items = await unread(identity)
        if not items:
            return HTMLResponse("<p>Rien de non lu : pas de push.</p>")
        first = next((i for i in items if i.notification.critical), items[0])
        payload: dict[str, Any] = await escalation.push_payload(identity, first, len(items))
        return HTMLResponse(
            _PUSH.format(
                firm=html.escape(TENANT_NAME),
                title=html.escape(str(payload["title"])),
                body=html.escape(str(payload["body"])),
                critical=" critical" if payload["critical"] else "",
                sticky="<div class='app'>Reste affichée jusqu'à une action</div>"
                if payload["critical"]
                else "",
                payload=html.escape(json.dumps(payload, ensure_ascii=False, indent=2)),
            )
        )

    api.add_api_route("/demo/mail", index, methods=["GET"], include_in_schema=False)
    api.add_api_route("/demo/mail/digest", digest, methods=["GET"], include_in_schema=False)
    api.add_api_route("/demo/mail/alert", alert, methods=["GET"], include_in_schema=False)
    api.add_api_route("/demo/push", push, methods=["GET"], include_in_schema=False)
