"""The one-click unsubscribe of e-mails (RFC 8058): the link's token is the credential.

``POST`` (what mail clients send for ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``)
turns that event's e-mail off; ``GET`` (a person following the link) shows a page with a
button that does the same, because link scanners follow links without asking anyone.
"""

from __future__ import annotations

import html

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

from tocsin.mail import InvalidUnsubscribeToken
from tocsin.mailing import Mailing

router = APIRouter(prefix="/api/v1/mail", tags=["e-mail"])

_PAGE = """<!doctype html><html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 3rem auto;">
<h1 style="font-size: 1.25rem">{title}</h1><p>{text}</p>{form}</body></html>"""


def _mailing(request: Request) -> Mailing:
    mailing: Mailing = request.app.state.mailing
    return mailing


@router.post("/unsubscribe")
async def unsubscribe(request: Request, token: str = Query(max_length=2000)) -> JSONResponse:
    """Turn off the e-mail the token names (one click, no session needed)."""
    try:
        tenant, user, event = await _mailing(request).unsubscribe(token)
    except InvalidUnsubscribeToken:
        return JSONResponse(
            {
                "error": "invalid_token",
                "message": "not an unsubscribe link of this server",
                "field": "token",
            },
            status_code=400,
        )
    return JSONResponse({"tenantId": tenant, "userId": user, "event": event, "email": False})


@router.get("/unsubscribe", response_class=HTMLResponse)
async def unsubscribe_page(token: str = Query(max_length=2000)) -> HTMLResponse:
    """A page whose button POSTs the unsubscribe (a GET changes nothing)."""
    form = (
        f'<form method="post" action="?token={html.escape(token, quote=True)}">'
        '<button type="submit" name="List-Unsubscribe" value="One-Click">'
        "Ne plus recevoir ces e-mails / Unsubscribe</button></form>"
    )
    return HTMLResponse(
        _PAGE.format(
            title="Se désabonner / Unsubscribe",
            text="Confirmez pour ne plus recevoir ces e-mails. / Confirm to stop these e-mails.",
            form=form,
        )
    )
