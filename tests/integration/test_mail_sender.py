"""E-mails through a real SMTP server (tests/smtpserver.py): what arrives, parsed; how the
server's refusals become outcomes; TLS and login; the one-click unsubscribe token; the
settings."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest

from tests.smtpserver import SmtpServer
from tocsin.config import ConfigError, Settings, load_settings
from tocsin.mail import (
    InvalidUnsubscribeToken,
    MailContext,
    MailNotConfigured,
    MailStatus,
    build_message,
    parse_smtp_url,
    read_unsubscribe_token,
    render_digest,
    render_notification,
    send_mail,
    unsubscribe_token,
    unsubscribe_url,
)
from tocsin.models import Audience, StoredNotification

FIRM = "Cabinet Dupont & Associés"
APP = "https://app.dupont.fr"
MAIL_FROM = f"{FIRM} <notifications@dupont.fr>"
TO = "Élodie Martin <elodie@dupont.fr>"
SECRET = "unsubscribe-secret-for-tests"
PUBLIC = "https://notify.dupont.fr"

KINDS: dict[str, dict[str, Any]] = {
    "email-received": {
        "subject": "Conclusions adverses",
        "from": "Me Martin <martin@avocats.fr>",
        "dossierNumber": "D-2025-007",
    },
    "dossier-updated": {
        "dossierNumber": "D-2025-003",
        "dossierTitle": "Dupont c/ Martin",
        "action": "status_changed",
        "status": "Clôturé",
    },
    "deadline-alert": {
        "dossierNumber": "D-2025-001",
        "message": "Délai d'appel expire dans 1 jour",
        "urgency": "critical",
        "deadlineType": "appel",
        "remainingDays": 1,
        "actions": [{"id": "acknowledge", "label": "Accuser réception"}],
    },
    "system-notification": {
        "title": "Maintenance ce soir",
        "message": "Coupure de 22 h à 23 h.",
        "type": "warning",
    },
}
# What each kind reads as, in the subject and in both parts.
WORDING = {
    ("email-received", "fr"): ("Nouvel e-mail : Conclusions adverses", "De Me Martin"),
    ("email-received", "en"): ("New e-mail: Conclusions adverses", "From Me Martin"),
    ("dossier-updated", "fr"): ("Statut modifié : Dupont c/ Martin", "Statut modifié · Clôturé"),
    ("dossier-updated", "en"): ("Status changed: Dupont c/ Martin", "Status changed · Clôturé"),
    ("deadline-alert", "fr"): (
        "⚠️ Délai critique : Délai d'appel expire dans 1 jour",
        "Appel · 1 jour restant",
    ),
    ("deadline-alert", "en"): (
        "⚠️ Critical deadline: Délai d'appel expire dans 1 jour",
        "Appel · 1 day left",
    ),
    ("system-notification", "fr"): (
        "Notification système : Maintenance ce soir",
        "Coupure de 22 h à 23 h.",
    ),
    ("system-notification", "en"): (
        "System notification: Maintenance ce soir",
        "Coupure de 22 h à 23 h.",
    ),
}


def stored(event: str, cursor: int = 1, **fields: Any) -> StoredNotification:
    return StoredNotification(
        cursor=cursor,
        id=f"n{cursor}",
        event=event,
        audience=Audience.USER,
        tenant_id="dupont",
        user_id="elodie",
        fields=fields or dict(KINDS[event]),
        timestamp=datetime(2025, 3, 3, 13, 5, tzinfo=UTC),
    )


def notification_mail(event: str = "email-received", locale: str = "fr", **fields: Any) -> Any:
    link = unsubscribe_url(PUBLIC, unsubscribe_token(SECRET, "dupont", "elodie", event))
    context = MailContext(firm=FIRM, app_url=APP, locale=locale)
    content = render_notification(stored(event, **fields), context, unsubscribe_url=link)
    return build_message(content, mail_from=MAIL_FROM, to=TO, unsubscribe_url=link)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound to nothing that listens: connecting is refused (and no one can take it)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


# --- what arrives -------------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["fr", "en"])
@pytest.mark.parametrize("event", list(KINDS))
async def test_a_notification_of_each_kind_arrives_in_both_parts(
    smtp: SmtpServer, event: str, locale: str
) -> None:
    outcome = await send_mail(smtp.url, notification_mail(event, locale))
    assert outcome.status is MailStatus.SENT, outcome
    assert outcome.code == 250 and "queued as 1" in outcome.reason

    [mail] = await smtp.arrived(1)
    subject, detail = WORDING[(event, locale)]
    message = mail.message
    assert message["Subject"] == subject
    assert message["From"].addresses[0].display_name == FIRM
    assert message["From"].addresses[0].addr_spec == "notifications@dupont.fr"
    assert message["To"].addresses[0].display_name == "Élodie Martin"
    assert (mail.mail_from, mail.rcpt_tos) == ("notifications@dupont.fr", ("elodie@dupont.fr",))
    assert message.get_content_type() == "multipart/alternative"
    assert message["Content-Language"] == locale
    assert message["Message-ID"].endswith("@dupont.fr>")
    assert message["Date"].datetime.year >= 2025
    text, html = mail.body("plain"), mail.body("html")
    for part in (text, html):
        assert detail in part
        assert FIRM.replace("&", "&amp;" if part is html else "&") in part
    open_app = "Open the app: " if locale == "en" else "Ouvrir l'application : "
    assert f"{open_app}{APP}\n" in text
    assert f'<html lang="{locale}">' in html

    header = message["List-Unsubscribe"]
    assert header.startswith(f"<{PUBLIC}/api/v1/mail/unsubscribe?token=") and header.endswith(">")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    token = header[1:-1].split("token=", 1)[1]
    assert read_unsubscribe_token(SECRET, token) == ("dupont", "elodie", event)
    assert header[1:-1] in text


async def test_a_critical_deadline_says_so_and_names_what_to_do_in_the_app(
    smtp: SmtpServer,
) -> None:
    await send_mail(smtp.url, notification_mail("deadline-alert", "fr"))
    [mail] = await smtp.arrived(1)
    text = mail.body("plain")
    assert "⚠️ Critique : cette notification demande votre attention." in text
    assert "À faire dans l'application : Accuser réception" in text
    assert "Critique · D-2025-001" in text
    assert "⚠️ Critique : cette notification demande votre attention." in mail.body("html")


async def test_a_script_in_a_subject_arrives_escaped_in_html(smtp: SmtpServer) -> None:
    fields = {**KINDS["email-received"], "subject": "<script>alert('x')</script>"}
    await send_mail(smtp.url, notification_mail("email-received", **fields))
    [mail] = await smtp.arrived(1)
    assert mail.message["Subject"] == "Nouvel e-mail : <script>alert('x')</script>"
    html = mail.body("html")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<script>alert('x')</script>" in mail.body("plain")


async def test_the_daily_digest_arrives_grouped_and_counted(smtp: SmtpServer) -> None:
    items = [
        stored("email-received", 1),
        stored("email-received", 2, **{**KINDS["email-received"], "subject": "Relance du greffe"}),
        stored("deadline-alert", 3),
        stored("dossier-updated", 4),
    ]
    link = unsubscribe_url(PUBLIC, unsubscribe_token(SECRET, "dupont", "elodie", "digest"))
    content = render_digest(
        items, MailContext(firm=FIRM, app_url=APP), day=date(2025, 3, 4), unsubscribe_url=link
    )
    message = build_message(content, mail_from=MAIL_FROM, to=TO, unsubscribe_url=link)
    assert (await send_mail(smtp.url, message)).status is MailStatus.SENT

    [mail] = await smtp.arrived(1)
    assert mail.message["Subject"] == f"⚠️ {FIRM} : 4 notifications non lues, dont 1 critique"
    text = mail.body("plain")
    assert "Résumé quotidien, mardi 4 mars 2025" in text
    assert "Vous avez 4 notifications non lues, dont 1 critique." in text
    headings = [line for line in text.splitlines() if line.startswith("== ")]
    assert headings == ["== Délais (1) ==", "== E-mails (2) ==", "== Dossiers (1) =="]
    assert "- [Critique] Délai d'appel expire dans 1 jour" in text
    html = mail.body("html")
    assert html.index("Délais") < html.index("E-mails") < html.index("Dossiers")
    assert ">2</span></h2>" in html
    token = mail.message["List-Unsubscribe"][1:-1].split("token=", 1)[1]
    assert read_unsubscribe_token(SECRET, token) == ("dupont", "elodie", "digest")


async def test_several_messages_are_recorded_in_order(smtp: SmtpServer) -> None:
    for event in KINDS:
        assert (await send_mail(smtp.url, notification_mail(event))).status is MailStatus.SENT
    mails = await smtp.arrived(4)
    assert [m.message["Subject"].split(" : ")[0] for m in mails] == [
        "Nouvel e-mail",
        "Statut modifié",
        "⚠️ Délai critique",
        "Notification système",
    ]


# --- refusals and failures ----------------------------------------------------------------


@pytest.mark.parametrize(("code", "at"), [(450, "RCPT"), (451, "DATA"), (421, "MAIL")])
async def test_a_temporary_refusal_is_retried(smtp: SmtpServer, code: int, at: Any) -> None:
    smtp.fail_next(code, "Greylisted, come back later", at=at)
    outcome = await send_mail(smtp.url, notification_mail())
    assert outcome.status is MailStatus.RETRY
    assert outcome.code == code
    assert "Greylisted, come back later" in outcome.reason
    assert smtp.messages == []
    # The next attempt goes through.
    assert (await send_mail(smtp.url, notification_mail())).status is MailStatus.SENT
    await smtp.arrived(1)


@pytest.mark.parametrize(
    ("code", "at", "words"), [(550, "RCPT", "No such user"), (552, "DATA", "Too big")]
)
async def test_a_permanent_refusal_is_rejected_with_the_reason(
    smtp: SmtpServer, code: int, at: Any, words: str
) -> None:
    smtp.fail_next(code, words, at=at)
    outcome = await send_mail(smtp.url, notification_mail())
    assert outcome.status is MailStatus.REJECTED
    assert outcome.code == code
    assert words in outcome.reason
    if at == "RCPT":
        assert outcome.reason.startswith("elodie@dupont.fr: 550 ")
    assert smtp.messages == []


async def test_a_server_that_is_down_means_retry(closed_port: int) -> None:
    outcome = await send_mail(f"smtp://127.0.0.1:{closed_port}", notification_mail())
    assert outcome.status is MailStatus.RETRY
    assert f"127.0.0.1:{closed_port}" in outcome.reason
    assert outcome.code is None


async def test_a_server_that_never_answers_times_out_into_a_retry() -> None:
    # It accepts the connection (the kernel does) and never says hello.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = f"smtp://127.0.0.1:{silent.getsockname()[1]}"
        outcome = await send_mail(url, notification_mail(), smtp_timeout=0.5)
    assert outcome.status is MailStatus.RETRY
    assert "timed out" in outcome.reason


# --- TLS and login ------------------------------------------------------------------------


async def test_starttls_and_login_from_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    with SmtpServer(tls="starttls", login=("tocsin", "p@ss/w:rd")) as server:
        monkeypatch.setenv("SSL_CERT_FILE", server.ca_file)
        url = f"smtp://tocsin:p%40ss%2Fw%3Ard@127.0.0.1:{server.port}?starttls=true"
        outcome = await send_mail(url, notification_mail())
        assert outcome.status is MailStatus.SENT, outcome
        [mail] = await server.arrived(1)
        assert (mail.login, mail.tls) == ("tocsin", True)

        wrong = await send_mail(url.replace("p%40ss", "nope"), notification_mail())
        assert wrong.status is MailStatus.RETRY
        assert wrong.code == 535
        assert "check the user and password of TOCSIN_SMTP_URL" in wrong.reason
        assert "nope" not in wrong.reason

        plain = await send_mail(url.replace("?starttls=true", ""), notification_mail())
        assert plain.status is MailStatus.RETRY  # the settings' fault, not the message's
        assert "check TOCSIN_SMTP_URL" in plain.reason
        assert len(server.messages) == 1


async def test_implicit_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    with SmtpServer(tls="implicit", login=("tocsin", "secret")) as server:
        monkeypatch.setenv("SSL_CERT_FILE", server.ca_file)
        assert server.url.startswith("smtps://")
        outcome = await send_mail(server.url, notification_mail())
        assert outcome.status is MailStatus.SENT, outcome
        [mail] = await server.arrived(1)
        assert (mail.login, mail.tls) == ("tocsin", True)


async def test_an_untrusted_certificate_is_not_accepted() -> None:
    with SmtpServer(tls="starttls") as server:
        outcome = await send_mail(server.url, notification_mail())
        assert outcome.status is MailStatus.RETRY
        assert "CERTIFICATE_VERIFY_FAILED" in outcome.reason
        assert server.messages == []


async def test_starttls_asked_of_a_server_without_it_is_not_skipped(smtp: SmtpServer) -> None:
    outcome = await send_mail(f"{smtp.url}?starttls=true", notification_mail())
    assert outcome.status is MailStatus.RETRY
    assert "STARTTLS" in outcome.reason
    assert smtp.messages == []


# --- settings -----------------------------------------------------------------------------


async def test_send_mail_takes_the_settings(smtp: SmtpServer, tmp_path: Any) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 't.db'}", smtp_url=smtp.url, mail_from=MAIL_FROM
    )
    assert (await send_mail(settings, notification_mail())).status is MailStatus.SENT
    await smtp.arrived(1)
    with pytest.raises(MailNotConfigured, match="TOCSIN_SMTP_URL"):
        await send_mail(Settings(), notification_mail())


def test_settings_read_the_smtp_url_and_never_show_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOCSIN_SMTP_URL", "smtp://tocsin:hunter2@mail.dupont.fr?starttls=true")
    monkeypatch.setenv("TOCSIN_MAIL_FROM", MAIL_FROM)
    settings = load_settings()
    assert settings.mail_from == MAIL_FROM
    assert "hunter2" not in repr(settings)
    target = parse_smtp_url(settings.smtp_url or "")
    assert (target.host, target.port, target.starttls, target.password) == (
        "mail.dupont.fr",
        587,
        True,
        "hunter2",
    )
    assert "hunter2" not in repr(target) and "hunter2" not in str(target)
    assert str(target) == "smtp://tocsin:***@mail.dupont.fr:587?starttls=true"

    monkeypatch.setenv("TOCSIN_SMTP_URL", "smtps://tocsin:hunter2@mail.dupont.fr?starttls=true")
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert "TOCSIN_SMTP_URL" in str(refused.value) and "hunter2" not in str(refused.value)

    monkeypatch.setenv("TOCSIN_SMTP_URL", "smtp://tocsin:hunter2@mail.dupont.fr:99999")
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert "hunter2" not in str(refused.value)

    monkeypatch.setenv("TOCSIN_SMTP_URL", "smtp://mail.dupont.fr")
    monkeypatch.setenv("TOCSIN_MAIL_FROM", "notifications")
    with pytest.raises(ConfigError, match="TOCSIN_MAIL_FROM"):
        load_settings()


@pytest.mark.parametrize(
    ("url", "host", "port", "implicit", "starttls"),
    [
        ("smtp://mail.dupont.fr", "mail.dupont.fr", 25, False, False),
        ("smtp://mail.dupont.fr?starttls=true", "mail.dupont.fr", 587, False, True),
        ("smtp://mail.dupont.fr:2525?starttls=false", "mail.dupont.fr", 2525, False, False),
        ("smtps://mail.dupont.fr", "mail.dupont.fr", 465, True, False),
        ("SMTP://[::1]:1025/", "::1", 1025, False, False),
    ],
)
def test_smtp_urls(url: str, host: str, port: int, implicit: bool, starttls: bool) -> None:
    target = parse_smtp_url(url)
    assert (target.host, target.port, target.implicit_tls, target.starttls) == (
        host,
        port,
        implicit,
        starttls,
    )
    assert target.username is None and target.password is None


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://mail.dupont.fr", "smtp:// or smtps://"),
        ("smtp://", "names no host"),
        ("smtp://mail.dupont.fr?tls=1", "unknown parameter 'tls'"),
        ("smtp://mail.dupont.fr?starttls=maybe", "true or false"),
        ("smtp://mail.dupont.fr/inbox", "path"),
        ("smtp://tocsin@mail.dupont.fr", "without a password"),
        ("smtp://tocsin:pa/ss@mail.dupont.fr", "percent-encode"),
    ],
)
def test_unusable_smtp_urls_say_why(url: str, words: str) -> None:
    with pytest.raises(ValueError, match=words) as refused:
        parse_smtp_url(url)
    assert "pa/ss" not in str(refused.value)


# --- unsubscribe tokens -------------------------------------------------------------------


def test_tokens_round_trip_any_identifier() -> None:
    for tenant, user, event in [
        ("dupont", "elodie", "deadline-alert"),
        ("cabinet-é", "42", "digest"),
        ('t"[],', "u\\", "e 🙂"),
    ]:
        token = unsubscribe_token(SECRET, tenant, user, event)
        assert all(c.isalnum() or c in "-_" for c in token)
        assert read_unsubscribe_token(SECRET, token) == (tenant, user, event)
        assert read_unsubscribe_token(SECRET.encode(), token) == (tenant, user, event)


def _flip(token: str, index: int) -> str:
    replacement = "A" if token[index] != "A" else "B"
    return token[:index] + replacement + token[index + 1 :]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: _flip(t, 5),  # the payload
        lambda t: _flip(t, len(t) - 3),  # the signature
        lambda t: t[:-1],
        lambda t: t + "A",
        lambda t: t + "=",
        lambda t: t[:20] + "." + t[20:],
        lambda t: "",
        lambda t: "A" * 60,
    ],
)
def test_a_tampered_token_is_refused(tamper: Any) -> None:
    token = unsubscribe_token(SECRET, "dupont", "elodie", "deadline-alert")
    with pytest.raises(InvalidUnsubscribeToken):
        read_unsubscribe_token(SECRET, tamper(token))


def test_a_token_of_another_secret_or_version_is_refused() -> None:
    token = unsubscribe_token(SECRET, "dupont", "elodie", "deadline-alert")
    with pytest.raises(InvalidUnsubscribeToken, match="signature does not match"):
        read_unsubscribe_token("another-secret", token)
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[0] = 2
    other_version = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(InvalidUnsubscribeToken, match="version 2"):
        read_unsubscribe_token(SECRET, other_version)
    with pytest.raises(ValueError):
        unsubscribe_token("", "dupont", "elodie", "deadline-alert")
    with pytest.raises(ValueError):
        unsubscribe_token(SECRET, "dupont", "", "deadline-alert")
