"""The e-mails' words, grouping and escaping (tocsin.mail.templates), and the message they
become (tocsin.mail.message). Sending is tests/integration/test_mail_sender.py."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from markupsafe import escape

from tocsin.mail import MailContext, build_message, render_digest, render_notification
from tocsin.mail.addresses import parse_address
from tocsin.mail.templates import RenderedMail, group_digest
from tocsin.mail.wording import plural
from tocsin.models import Audience, StoredNotification

APP = "https://app.dupont.fr"
# 13:05 UTC is 14:05 in Paris in March.
MOMENT = datetime(2025, 3, 3, 13, 5, tzinfo=UTC)
FR = MailContext(firm="Cabinet Dupont & Associés", app_url=APP)
EN = MailContext(firm="Dupont LLP", app_url=APP, locale="en-GB", timezone="Europe/London")


def stored(
    event: str, cursor: int = 1, when: datetime = MOMENT, **fields: Any
) -> StoredNotification:
    return StoredNotification(
        cursor=cursor,
        id=f"n{cursor}",
        event=event,
        audience=Audience.USER,
        tenant_id="firm",
        user_id="alice",
        fields=fields,
        timestamp=when,
    )


def email_received(**extra: Any) -> StoredNotification:
    fields = {"subject": "Conclusions adverses", "from": "Me Martin <martin@avocats.fr>"}
    return stored("email-received", **{**fields, "dossierNumber": "D-2025-007", **extra})


def dossier_updated(**extra: Any) -> StoredNotification:
    fields = {"dossierNumber": "D-2025-003", "dossierTitle": "Dupont c/ Martin"}
    return stored("dossier-updated", **{**fields, "action": "document_added", **extra})


def deadline_alert(urgency: str = "urgent", days: int = 2, **extra: Any) -> StoredNotification:
    fields: dict[str, Any] = {"dossierNumber": "D-2025-001", "urgency": urgency}
    fields.update(message="Délai d'appel expire bientôt", deadlineType="appel", remainingDays=days)
    return stored("deadline-alert", **{**fields, **extra})


def system_notification(kind: str = "info", **extra: Any) -> StoredNotification:
    fields = {"title": "Maintenance ce soir", "message": "Le service sera coupé\nde 22 h à 23 h."}
    return stored("system-notification", **{**fields, "type": kind, **extra})


# --- one notification, each kind, in French and English ---------------------------------


@pytest.mark.parametrize(
    ("item", "context", "subject", "lines"),
    [
        (
            email_received(),
            FR,
            "Nouvel e-mail : Conclusions adverses",
            ["Nouvel e-mail", "De Me Martin <martin@avocats.fr>", "D-2025-007"],
        ),
        (
            email_received(),
            EN,
            "New e-mail: Conclusions adverses",
            ["New e-mail", "From Me Martin <martin@avocats.fr>", "D-2025-007"],
        ),
        (
            dossier_updated(action="status_changed", status="Clôturé"),
            FR,
            "Statut modifié : Dupont c/ Martin",
            ["Dossier mis à jour", "Statut modifié · Clôturé", "D-2025-003"],
        ),
        (
            dossier_updated(),
            EN,
            "Document added: Dupont c/ Martin",
            ["Dossier updated", "Document added", "D-2025-003"],
        ),
        (
            deadline_alert(),
            FR,
            "Alerte de délai (Urgent) : Délai d'appel expire bientôt",
            ["Alerte de délai", "Appel · 2 jours restants", "Urgent · D-2025-001"],
        ),
        (
            deadline_alert("warning", 1),
            EN,
            "Deadline alert (Warning): Délai d'appel expire bientôt",
            ["Deadline alert", "Appel · 1 day left", "Warning · D-2025-001"],
        ),
        (
            system_notification(),
            FR,
            "Notification système : Maintenance ce soir",
            ["Notification système", "Le service sera coupé\nde 22 h à 23 h."],
        ),
        (
            system_notification("success"),
            EN,
            "System notification: Maintenance ce soir",
            ["System notification", "Le service sera coupé"],
        ),
    ],
)
def test_each_kind_is_worded_as_in_the_notification_center(
    item: StoredNotification, context: MailContext, subject: str, lines: list[str]
) -> None:
    mail = render_notification(item, context)
    assert mail.subject == subject
    assert mail.locale == ("en" if context is EN else "fr")
    for line in [context.firm, *lines]:
        assert line in mail.text
        for piece in line.split(" · "):  # tags are separate labels in HTML
            assert _escaped(piece) in mail.html
    assert "⚠️" not in mail.text  # none of these is critical
    open_app = "Open the app: " if context is EN else "Ouvrir l'application : "
    assert f"{open_app}{APP}\n" in mail.text
    assert f'href="{APP}"' in mail.html


def test_times_are_written_in_the_readers_zone_and_language() -> None:
    assert "3 mars 2025 à 14:05" in render_notification(email_received(), FR).text
    assert "3 March 2025 at 13:05" in render_notification(email_received(), EN).text
    tokyo = MailContext(firm="F", app_url=APP, timezone="Asia/Tokyo")
    assert "3 mars 2025 à 22:05" in render_notification(email_received(), tokyo).text


@pytest.mark.parametrize(
    ("days", "french", "english"),
    [
        (0, "expire aujourd'hui", "due today"),
        (1, "1 jour restant", "1 day left"),
        (3, "3 jours restants", "3 days left"),
        (-1, "expiré depuis 1 jour", "overdue by 1 day"),
        (-4, "expiré depuis 4 jours", "overdue by 4 days"),
    ],
)
def test_remaining_days_as_the_client_says_them(days: int, french: str, english: str) -> None:
    assert f"Appel · {french}" in render_notification(deadline_alert(days=days), FR).text
    assert f"Appel · {english}" in render_notification(deadline_alert(days=days), EN).text


def test_french_plural_puts_zero_and_one_in_the_singular() -> None:
    assert [plural("fr", n, "# jour", "# jours") for n in (0, 1, 2)] == [
        "0 jour",
        "1 jour",
        "2 jours",
    ]
    assert [plural("en", n, "# day", "# days") for n in (0, 1, 2)] == ["0 days", "1 day", "2 days"]


# --- critical -----------------------------------------------------------------------------


def test_a_critical_deadline_says_so_in_the_subject_and_at_the_top() -> None:
    mail = render_notification(deadline_alert("critical", 1), FR)
    assert mail.subject == "⚠️ Délai critique : Délai d'appel expire bientôt"
    lines = mail.text.splitlines()
    assert lines[:3] == [
        "Cabinet Dupont & Associés",
        "",
        "⚠️ Critique : cette notification demande votre attention.",
    ]
    assert "Critique · D-2025-001" in mail.text
    assert (
        "Les alertes critiques (délais critiques, erreurs système) vous préviennent toujours."
        in mail.text
    )
    assert "⚠️ Critique : cette notification demande votre attention." in mail.html
    assert "background:#fee2e2" in mail.html
    english = render_notification(deadline_alert("critical", 0), EN)
    assert english.subject == "⚠️ Critical deadline: Délai d'appel expire bientôt"
    assert "⚠️ Critical: this notification needs your attention." in english.text


@pytest.mark.parametrize(
    ("item", "subject"),
    [
        (system_notification("error"), "⚠️ Notification système (Critique) : Maintenance ce soir"),
        (email_received(critical=True), "⚠️ Nouvel e-mail (Critique) : Conclusions adverses"),
        (deadline_alert("info", critical=True), "⚠️ Délai critique : Délai d'appel expire bientôt"),
    ],
)
def test_every_critical_item_is_marked(item: StoredNotification, subject: str) -> None:
    mail = render_notification(item, FR)
    assert item.critical
    assert mail.subject == subject
    assert "⚠️ Critique : cette notification demande votre attention." in mail.text
    assert "Critique" in mail.text.split("\n\n")[2]  # the tags, beside the title


# --- links and actions --------------------------------------------------------------------


def test_an_action_with_a_url_is_the_link_and_the_others_are_named() -> None:
    actions = [
        {"id": "acknowledge", "label": "Accuser réception"},
        {"id": "open", "label": "Ouvrir le dossier", "url": "/dossiers/1?tab=delais"},
        {"id": "court", "label": "Greffe", "url": "https://greffe.example/123", "primary": True},
    ]
    mail = render_notification(deadline_alert("critical", 1, actions=actions), FR)
    assert "Greffe : https://greffe.example/123\n" in mail.text  # the primary one
    assert "À faire dans l'application : Accuser réception\n" in mail.text
    assert 'href="https://greffe.example/123"' in mail.html
    only_path = render_notification(deadline_alert(actions=actions[:2]), FR)
    assert f"Ouvrir le dossier : {APP}/dossiers/1?tab=delais\n" in only_path.text
    assert f'href="{APP}/dossiers/1?tab=delais"' in only_path.html


@pytest.mark.parametrize("url", ["javascript:alert(1)", "//evil.example/x", "data:text/html,x"])
def test_a_link_that_would_leave_the_app_unnoticed_is_not_followed(url: str) -> None:
    # The API refuses these; a row written by an older version must not become a link either.
    mail = render_notification(
        email_received(actions=[{"id": "x", "label": "Voir", "url": url}]), FR
    )
    assert url not in mail.text
    assert url not in mail.html
    assert "À faire dans l'application : Voir" in mail.text


# --- escaping -----------------------------------------------------------------------------


def test_html_is_escaped_and_text_is_left_as_written() -> None:
    attack = '<script>alert("x")</script> & <b>bold</b>'
    url = 'https://x.example/"><script>alert(2)</script>'
    mail = render_notification(
        email_received(subject=attack, actions=[{"id": "o", "label": "<i>Voir</i>", "url": url}]),
        MailContext(firm="<Firm> & Co", app_url=APP),
    )
    assert "<script>" not in mail.html
    assert "<b>" not in mail.html and "<i>" not in mail.html
    assert (
        "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in mail.html
    )
    assert "&lt;Firm&gt; &amp; Co" in mail.html
    assert 'href="https://x.example/&#34;&gt;&lt;script&gt;alert(2)&lt;/script&gt;"' in mail.html
    assert f"<title>Nouvel e-mail : {_escaped(attack)}</title>" in mail.html
    assert attack in mail.text  # the text part is text
    assert mail.subject == f"Nouvel e-mail : {attack}"


def test_a_subject_is_one_line_of_bounded_length() -> None:
    mail = render_notification(
        system_notification(title="Ligne 1\r\nBcc: x@evil.example\n" + "x" * 500), FR
    )
    assert "\n" not in mail.subject and "\r" not in mail.subject
    assert mail.subject.startswith("Notification système : Ligne 1 Bcc: x@evil.example xxx")
    assert len(mail.subject) == 150 and mail.subject.endswith("…")


def test_an_unknown_event_still_makes_an_e_mail() -> None:
    mail = render_notification(
        stored("invoice-paid", title="Facture 12 réglée", message="1 200 €"), FR
    )
    assert mail.subject == "invoice-paid : Facture 12 réglée"
    assert "1 200 €" in mail.text


def test_the_footer_says_why_and_offers_the_unsubscribe_link() -> None:
    link = "https://notify.dupont.fr/api/v1/mail/unsubscribe?token=abc&x=1"
    mail = render_notification(deadline_alert(), FR, unsubscribe_url=link)
    assert "l'envoi par e-mail est activé pour « Délais »" in mail.text
    assert f"Ne plus recevoir ces e-mails : {link}\n" in mail.text
    assert 'href="https://notify.dupont.fr/api/v1/mail/unsubscribe?token=abc&amp;x=1"' in mail.html
    english = render_notification(email_received(), EN, unsubscribe_url=link)
    assert "e-mail is on for “E-mails”" in english.text
    assert f"Stop these e-mails: {link}\n" in english.text
    assert "unsubscribe" not in render_notification(email_received(), EN).text


@pytest.mark.parametrize(
    "values",
    [
        {"firm": " ", "app_url": APP},
        {"firm": "F", "app_url": "javascript:alert(1)"},
        {"firm": "F", "app_url": 'https://a.example/"x'},
        {"firm": "F", "app_url": APP, "timezone": "Mars/Olympus"},
    ],
)
def test_a_context_that_cannot_make_a_good_e_mail_is_refused(values: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        MailContext(**values)


# --- digest -------------------------------------------------------------------------------


def digest_items() -> list[StoredNotification]:
    later = MOMENT + timedelta(hours=2)
    return [
        email_received(cursor=1),
        email_received(cursor=2, subject="Relance du greffe", when=later),
        dossier_updated(cursor=3),
        deadline_alert("urgent", 2, cursor=4, message="Délai de signification expire dans 2 jours"),
        deadline_alert("critical", 1, cursor=5, message="Délai d'appel expire dans 1 jour"),
        deadline_alert(
            "info", 3, cursor=6, message="Délai de paiement expire dans 3 jours", when=later
        ),
        system_notification(cursor=7),
    ]


def test_the_digest_groups_by_event_with_counts_deadlines_first() -> None:
    mail = render_digest(digest_items(), FR, day=date(2025, 3, 4))
    assert mail.subject == "⚠️ Cabinet Dupont & Associés : 7 notifications non lues, dont 1 critique"
    assert "Résumé quotidien, mardi 4 mars 2025" in mail.text
    assert "Vous avez 7 notifications non lues, dont 1 critique." in mail.text
    headings = [line for line in mail.text.splitlines() if line.startswith("== ")]
    assert headings == [
        "== Délais (3) ==",
        "== E-mails (2) ==",
        "== Dossiers (1) ==",
        "== Système (1) ==",
    ]
    deadlines = mail.text.split("== Délais (3) ==")[1].split("== E-mails")[0]
    titles = [line for line in deadlines.splitlines() if line.startswith("- ")]
    # Critical first, then newest first.
    assert titles == [
        "- [Critique] Délai d'appel expire dans 1 jour",
        "- Délai de paiement expire dans 3 jours",
        "- Délai de signification expire dans 2 jours",
    ]
    emails = mail.text.split("== E-mails (2) ==")[1].split("== Dossiers")[0]
    assert emails.index("Relance du greffe") < emails.index("Conclusions adverses")
    assert "Vous recevez ce résumé car le résumé quotidien par e-mail est activé" in mail.text
    for label, count in (("Délais", 3), ("E-mails", 2), ("Dossiers", 1), ("Système", 1)):
        assert (
            f'<h2 style="margin:0 0 4px;font-size:16px;color:#0f172a;">{label} <span' in mail.html
        )
        assert f">{count}</span></h2>" in mail.html
    assert mail.html.index("Délais") < mail.html.index("E-mails") < mail.html.index("Système")


def test_the_digest_in_english() -> None:
    mail = render_digest(digest_items()[:2], EN, day=date(2025, 3, 4))
    assert mail.subject == "Dupont LLP: 2 unread notifications"
    assert "Daily digest, Tuesday 4 March 2025" in mail.text
    assert "You have 2 unread notifications." in mail.text
    assert "== E-mails (2) ==" in mail.text
    single = render_digest([deadline_alert("critical", 0)], EN, day=date(2025, 3, 4))
    assert single.subject == "⚠️ Dupont LLP: 1 unread notification, 1 critical"
    assert "You have 1 unread notification, a critical one." in single.text


def test_french_digest_counts_in_the_singular() -> None:
    mail = render_digest([email_received()], FR, day=date(2025, 3, 4))
    assert mail.subject == "Cabinet Dupont & Associés : 1 notification non lue"
    assert "Vous avez 1 notification non lue." in mail.text


def test_a_long_group_shows_the_first_items_and_counts_the_rest() -> None:
    items = [email_received(cursor=n, subject=f"Message {n}") for n in range(1, 26)]
    mail = render_digest(items, FR, day=date(2025, 3, 4))
    assert "== E-mails (25) ==" in mail.text
    assert mail.text.count("\n- Message ") == 20
    assert "  et 5 autres\n" in mail.text
    assert "et 5 autres" in mail.html
    [group] = group_digest(items, FR, per_group=24)
    assert (group.count, len(group.items), group.more) == (25, 24, 1)
    assert "and 1 more" in render_digest(items, EN, per_group=24).text


def test_the_digest_escapes_html_too() -> None:
    mail = render_digest([email_received(subject="<img src=x onerror=alert(1)>")], FR)
    assert "<img" not in mail.html
    assert "&lt;img src=x onerror=alert(1)&gt;" in mail.html


def test_nothing_unread_makes_no_digest() -> None:
    with pytest.raises(ValueError, match="nothing unread"):
        render_digest([], FR)


# --- the message --------------------------------------------------------------------------


def _escaped(text: str) -> str:
    return str(escape(text))


def _reparsed(message: EmailMessage) -> EmailMessage:
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_the_message_is_multipart_alternative_with_both_parts_in_utf8() -> None:
    content = render_notification(deadline_alert("critical", 1), FR)
    message = _reparsed(
        build_message(
            content,
            mail_from="Cabinet Dupont & Associés <notifications@dupont.fr>",
            to="Élodie Martin <elodie@dupont.fr>",
            unsubscribe_url="https://notify.dupont.fr/api/v1/mail/unsubscribe?token=t0k",
        )
    )
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert text.get_content_charset() == html.get_content_charset() == "utf-8"
    assert text["Content-Transfer-Encoding"] == "quoted-printable"
    assert text.get_content() == content.text
    assert html.get_content() == content.html
    assert all(b < 128 for b in message.as_bytes())  # 7-bit: any relay takes it
    assert message["Subject"] == content.subject
    assert message["From"].addresses[0].display_name == "Cabinet Dupont & Associés"
    assert message["To"].addresses[0].addr_spec == "elodie@dupont.fr"
    assert (
        message["List-Unsubscribe"]
        == "<https://notify.dupont.fr/api/v1/mail/unsubscribe?token=t0k>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"].endswith("@dupont.fr>")
    assert message["Date"].datetime.tzinfo is not None
    assert message["Content-Language"] == "fr"
    assert message["Auto-Submitted"] == "auto-generated"


def test_one_key_makes_one_message_id_and_the_date_can_be_given() -> None:
    content = render_notification(email_received(), EN)

    def built(key: str | None) -> EmailMessage:
        return _reparsed(
            build_message(
                content,
                mail_from="n@dupont.fr",
                to="a@dupont.fr",
                message_key=key,
                date=MOMENT,
                headers={"X-Tocsin-Notification": "n1"},
            )
        )

    message = built("email:42:critical")
    assert message["Message-ID"] == built("email:42:critical")["Message-ID"]
    assert message["Message-ID"].startswith("<tocsin.") and message["Message-ID"].endswith(
        "@dupont.fr>"
    )
    assert message["Message-ID"] != built("email:43:critical")["Message-ID"]
    assert built(None)["Message-ID"] != built(None)["Message-ID"]
    assert message["Date"] == "Mon, 03 Mar 2025 13:05:00 +0000"
    assert message["X-Tocsin-Notification"] == "n1"
    assert message["List-Unsubscribe"] is None
    assert message["Content-Language"] == "en"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"mail_from": "not an address"}, "mail_from"),
        ({"to": "a@dupont.fr, b@dupont.fr"}, "to"),
        ({"to": "a@dupont.fr\r\nBcc: spy@evil.example"}, "to"),
        ({"unsubscribe_url": "mailto:x@dupont.fr"}, "unsubscribe_url"),
        ({"unsubscribe_url": "https://n.example/u?t=a>, <https://evil.example"}, "unsubscribe_url"),
        ({"headers": {"Subject": "other"}}, "sets Subject itself"),
    ],
)
def test_a_bad_address_url_or_header_is_refused(values: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"mail_from": "n@dupont.fr", "to": "a@dupont.fr", **values}
    content = RenderedMail(subject="s", text="t", html="<p>h</p>", locale="fr")
    with pytest.raises(ValueError, match=message):
        build_message(content, **arguments)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("notifications@dupont.fr", "notifications@dupont.fr"),
        ("Cabinet Dupont & Associés <n@dupont.fr>", "Cabinet Dupont & Associés <n@dupont.fr>"),
        ('"Dupont, Martin" <n@dupont.fr>', '"Dupont, Martin" <n@dupont.fr>'),
        ("élodie@exemple.fr", "élodie@exemple.fr"),
    ],
)
def test_addresses_with_or_without_a_name(value: str, shown: str) -> None:
    assert str(parse_address(value)) == shown


@pytest.mark.parametrize(
    "value",
    ["", "nobody", "a@", "@dupont.fr", "a@b.fr, c@d.fr", "Dupont <a@b.fr", "a@b.fr\nBcc: x@y.fr"],
)
def test_what_is_not_one_address_is_refused(value: str) -> None:
    with pytest.raises(ValueError):
        parse_address(value)
