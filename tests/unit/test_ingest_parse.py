"""parse.py: hostile and odd mail in, notification fields (or MalformedMessage) out."""

from __future__ import annotations

import base64
import re
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from tocsin.ingest.parse import (
    MalformedMessage,
    decode_bytes,
    decode_header_text,
    html_to_text,
    parse_message,
)


def message(*headers: str, body: bytes = b"Bonjour.\r\n") -> bytes:
    head = "\r\n".join(headers) if headers else "From: a@b.example"
    return head.encode("utf-8", "surrogateescape") + b"\r\n\r\n" + body


@pytest.mark.parametrize(
    ("header", "text"),
    [
        ("=?UTF-8?B?RMOpbGFpIGQnYXBwZWw=?=", "Délai d'appel"),
        ("=?ISO-8859-1?Q?Ma=EEtre_Fran=E7ois?=", "Maître François"),
        ("=?utf-8?q?caf=C3=A9?= =?utf-8?q?_cr=C3=A8me?=", "café crème"),
        # A multi-byte character split across two encoded words.
        ("=?UTF-8?B?w6k=?==?UTF-8?B?w6k=?=", "éé"),
        ("=?UTF-8?B?ww==?= =?UTF-8?B?qQ==?=", "é"),
        ("Re: =?windows-1252?Q?=93devis=94?= n°3", "Re: “devis” n°3"),
        ("=?koi8-r?B?8NLJ18XU?=", "Привет"),
        ("=?utf-8*fr?Q?d=C3=A9j=C3=A0?=", "déjà"),
        ("plain  text\r\n folded", "plain text folded"),
        ("=?bogus-charset?Q?caf=C3=A9?=", "café"),
        ("=?x-unknown?Q?caf=E9?=", "café"),
        ("=?unicode_escape?Q?=5Cu0041?=", "\\u0041"),
        ("=?UTF-8?B?not base64!?=", "=?UTF-8?B?not base64!?="),
        ("bell\x07 and\x00 nul", "bell and nul"),
    ],
)
def test_encoded_words_and_odd_charsets(header: str, text: str) -> None:
    assert decode_header_text(header) == text


def test_raw_eight_bit_headers_are_read_as_utf8_else_cp1252() -> None:
    utf8 = message("From: a@b.example", "Subject: caf\udcc3\udca9")
    latin = message("From: a@b.example", "Subject: caf\udce9")
    assert parse_message(utf8).subject == "café"
    assert parse_message(latin).subject == "café"


def test_unknown_body_charset_falls_back() -> None:
    raw = message(
        "From: a@b.example",
        'Content-Type: text/plain; charset="x-martian"',
        body="Réf. PEN-2026-44".encode(),
    )
    assert parse_message(raw).dossier_number == "PEN-2026-44"


def test_the_sender_is_name_and_address() -> None:
    raw = message('From: "Dupont, Jean" <J.Dupont@Avocats.example>')
    assert parse_message(raw).sender == "Dupont, Jean <J.Dupont@Avocats.example>"
    assert parse_message(message("From: solo@x.example")).sender == "solo@x.example"
    sender = "From: =?UTF-8?Q?L=C3=A9a_=3CSpoof=3E?= <lea@x.example>"
    assert parse_message(message(sender)).sender == "Léa <Spoof> <lea@x.example>"


def test_recipients_message_id_and_date() -> None:
    sent = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    raw = message(
        "From: a@b.example",
        "Delivered-To: Alice+Greffe@Cabinet.example",
        "To: Alice <alice@cabinet.example>, bob@x.example",
        "Cc: undisclosed-recipients:;",
        "Message-ID:  <abc.123@mx.example> (comment)",
        f"Date: {format_datetime(sent)}",
    )
    mail = parse_message(raw)
    assert mail.recipients == (
        "alice+greffe@cabinet.example",
        "alice@cabinet.example",
        "bob@x.example",
    )
    assert mail.message_id == "abc.123@mx.example"
    assert mail.date == sent


def test_a_date_from_the_future_or_the_distant_past_is_not_used() -> None:
    future = format_datetime(datetime.now(UTC) + timedelta(days=2))
    assert parse_message(message("From: a@b.example", f"Date: {future}")).date is None
    assert (
        parse_message(message("From: a@b.example", "Date: Thu, 1 Jan 1970 00:00 +0000")).date
        is None
    )
    assert parse_message(message("From: a@b.example", "Date: yesterday-ish")).date is None


def test_html_only_multipart_is_stripped_to_text() -> None:
    html = (
        b"<html><head><title>SOC-2026-1</title><style>.x{}</style></head><body>"
        b"<script>var d='ADM-2026-9';</script><p>Dossier&nbsp;<b>CIV-2026-0042</b></p>"
        b"</body></html>"
    )
    raw = message(
        "From: a@b.example",
        "MIME-Version: 1.0",
        'Content-Type: multipart/alternative; boundary="b1"',
        body=b"--b1\r\nContent-Type: text/html; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + html + b"\r\n--b1--\r\n",
    )
    assert parse_message(raw).dossier_number == "CIV-2026-0042"
    assert html_to_text("<p>a</p><p>b &amp; c</p>").split() == ["a", "b", "&", "c"]


def test_text_plain_is_preferred_to_html() -> None:
    raw = message(
        "From: a@b.example",
        'Content-Type: multipart/alternative; boundary="b1"',
        body=b"--b1\r\nContent-Type: text/html\r\n\r\n<p>HTM-2026-1</p>\r\n"
        b"--b1\r\nContent-Type: text/plain\r\n\r\nTXT-2026-2\r\n--b1--\r\n",
    )
    assert parse_message(raw).dossier_number == "TXT-2026-2"


def test_the_subject_wins_over_the_body_and_attachments_are_never_searched() -> None:
    raw = message(
        "From: a@b.example",
        "Subject: Re: SUB-2026-1",
        'Content-Type: multipart/mixed; boundary="b1"',
        body=b"--b1\r\nContent-Type: text/plain\r\n\r\nBODY-2026-2\r\n"
        b"--b1\r\nContent-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\n"
        b"ATT-2026-3\r\n--b1--\r\n",
    )
    assert parse_message(raw).dossier_number == "SUB-2026-1"
    attached_only = raw.replace(b"Subject: Re: SUB-2026-1", b"Subject: -").replace(
        b"BODY-2026-2", b"nothing"
    )
    assert parse_message(attached_only).dossier_number is None


def test_a_custom_dossier_pattern_uses_its_first_group() -> None:
    raw = message("From: a@b.example", "Subject: Affaire RG 24/01234 — renvoi")
    assert parse_message(raw, dossier_pattern=r"RG (\d{2}/\d{5})").dossier_number == "24/01234"
    assert parse_message(raw).dossier_number is None


def test_a_huge_attachment_is_not_loaded() -> None:
    pdf = base64.encodebytes(b"%PDF TAIL-2026-999 " * 500_000)
    raw = message(
        "From: a@b.example",
        "Subject: Pièces",
        'Content-Type: multipart/mixed; boundary="b1"',
        body=b"--b1\r\nContent-Type: text/plain\r\n\r\nVoir PEN-2026-5\r\n"
        b"--b1\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + pdf
        + b"\r\n--b1--\r\n",
    )
    assert len(raw) > 10_000_000
    started = time.perf_counter()
    mail = parse_message(raw, max_bytes=32 * 1024)
    elapsed = time.perf_counter() - started
    assert mail.truncated and mail.fingerprint.endswith(f":{len(raw)}")
    assert mail.dossier_number == "PEN-2026-5" and mail.subject == "Pièces"
    assert elapsed < 0.5, f"{elapsed:.2f} s: the attachment was read"
    # Handed only the first bytes (as the watcher fetches them), it says how big it was.
    prefix = parse_message(raw[: 32 * 1024], total_size=len(raw))
    assert prefix.truncated and prefix.fingerprint == mail.fingerprint


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\r\n\r\n",
        b"this is not an e-mail\r\njust text\r\n",
        bytes(range(256)) * 4,
        b"Subject: no sender\r\nTo: a@b.example\r\n\r\nbody",
    ],
    ids=["empty", "blank", "prose", "binary", "no-sender"],
)
def test_what_is_not_mail_is_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedMessage):
        parse_message(raw)


@pytest.mark.parametrize(
    "raw",
    [
        # Multipart without a boundary, base64 that is not, a charset that lies.
        b"From: a@b.example\r\nContent-Type: multipart/mixed\r\n\r\n--x\r\nhello",
        b"From: a@b.example\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64@@@",
        b"From: a@b.example\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\xff\xfe\xfa",
        b"From: a@b.example\r\nContent-Type: text/plain; charset*=''\r\n\r\nx",
        b"From: a@b.example\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n"
        + b"--a\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n" * 2000,
    ],
    ids=["no-boundary", "bad-base64", "lying-charset", "rfc2231-empty", "deep-nesting"],
)
def test_broken_mime_still_gives_a_notification_or_a_clean_refusal(raw: bytes) -> None:
    try:
        mail = parse_message(raw)
    except MalformedMessage:
        return
    assert mail.sender == "a@b.example"


def test_fields_are_bounded_single_lines() -> None:
    raw = message("From: a@b.example", "Subject: " + "x" * 5000 + "\r\n\tend")
    subject = parse_message(raw).subject
    assert len(subject) == 1000 and subject.endswith("…") and "\n" not in subject


def test_decode_bytes_never_raises() -> None:
    assert decode_bytes(b"caf\xe9", "utf-8") == "café"
    assert decode_bytes("Привет".encode("koi8-r"), " KOI8-R ") == "Привет"
    assert decode_bytes(b"\x81\x8d", "ks_c_5601-1987")  # an alias Python lacks
    assert re.fullmatch(r".*", decode_bytes(bytes(range(256)), "base64"), re.DOTALL)
