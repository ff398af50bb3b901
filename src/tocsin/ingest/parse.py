"""RFC 822 bytes → the fields of an ``email-received`` notification.

Mail is hostile input: any byte sequence must give either a :class:`ParsedMail` or a
:class:`MalformedMessage`, never another exception, and never more work than the bytes
handed in (callers cap them: an attachment past the cap is never fetched nor decoded).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import hashlib
import quopri
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

from lxml import etree

DEFAULT_DOSSIER_PATTERN = r"\b[A-Z]{1,4}-\d{4}-\d{1,6}\b"
MAX_MESSAGE_BYTES = 1_048_576
# Bounds on what is searched for a dossier number and kept of each header.
MAX_BODY_CHARS = 200_000
MAX_PARTS = 100
MAX_FIELD_CHARS = 1000
# Headers naming who a message was delivered to, most specific first.
RECIPIENT_HEADERS = (
    "delivered-to",
    "x-original-to",
    "envelope-to",
    "to",
    "cc",
    "resent-to",
    "resent-cc",
)
# Text codecs that turn bytes into something other than the text they spell.
_UNSAFE_CODECS = {"unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined"}
# Charset names seen in real mail that Python does not know under that name.
_CHARSET_ALIASES = {
    "ks_c_5601-1987": "cp949",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "x-user-defined": "latin-1",
    "unknown-8bit": "utf-8",
    "x-unknown": "utf-8",
    "ansi_x3.4-1968": "ascii",
}
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([QqBb])\?([^?\s]*)\?=")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SPACES = re.compile(r"\s+")


class MalformedMessage(ValueError):
    """The bytes are not an e-mail that a notification can be made of (the message says why)."""


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """What a notification needs from one message."""

    subject: str
    sender: str
    recipients: tuple[str, ...]
    message_id: str | None
    dossier_number: str | None
    date: datetime | None
    # Only the first bytes were read (the message is over the size cap).
    truncated: bool
    # Identifies the bytes when there is no Message-ID (sha256 of what was read, and size).
    fingerprint: str


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode with the declared charset; an unknown or lying one falls back, never raises."""
    name = (charset or "").strip().strip('"').lower()
    name = _CHARSET_ALIASES.get(name, name)
    if name:
        try:
            info = codecs.lookup(name)
        except LookupError:
            info = None
        if info is not None and info.name not in _UNSAFE_CODECS:
            try:
                return data.decode(info.name)
            except (UnicodeDecodeError, LookupError, ValueError):
                pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _raw_text(value: str) -> str:
    """Undo the parser's surrogate escapes: raw 8-bit headers are usually UTF-8, else cp1252."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    return decode_bytes(value.encode("ascii", "surrogateescape"), None)


def _decode_word(encoding: str, text: str) -> bytes | None:
    try:
        if encoding in "Bb":
            return base64.b64decode(text + "=" * (-len(text) % 4))
        return quopri.decodestring(text.encode("ascii"), header=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


def decode_header_text(value: str) -> str:
    """A header's text with RFC 2047 encoded words decoded, on one line, control chars removed.

    Adjacent encoded words in one charset are joined before decoding (mailers split
    multi-byte characters across them); whitespace between encoded words is dropped.
    """
    value = _raw_text(value)
    pieces: list[str | tuple[str, bytearray]] = []
    position = 0
    for match in _ENCODED_WORD.finditer(value):
        gap = value[position : match.start()]
        position = match.end()
        decoded = _decode_word(match.group(2), match.group(3))
        if decoded is None:
            pieces.append(gap + match.group(0))
            continue
        charset = match.group(1).split("*", 1)[0].lower()
        last = pieces[-1] if pieces else None
        if gap and not (isinstance(last, tuple) and not gap.strip()):
            pieces.append(gap)
            last = None
        if isinstance(last, tuple) and last[0] == charset:
            last[1].extend(decoded)
        else:
            pieces.append((charset, bytearray(decoded)))
    pieces.append(value[position:])
    text = "".join(
        part if isinstance(part, str) else decode_bytes(bytes(part[1]), part[0]) for part in pieces
    )
    return clean_text(text)


def clean_text(text: str, limit: int = MAX_FIELD_CHARS) -> str:
    """One line of printable text, at most ``limit`` characters (an ellipsis marks a cut)."""
    text = _SPACES.sub(" ", _CONTROL.sub(" ", text)).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def _headers(message: Message) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in message.raw_items():
        found.setdefault(str(name).strip().lower(), []).append(str(value))
    return found


def _sender(headers: dict[str, list[str]]) -> str:
    for name in ("from", "sender", "reply-to"):
        for raw in headers.get(name, []):
            display, address = parseaddr(_raw_text(raw).replace("\r", " ").replace("\n", " "))
            address = clean_text(address, 320)
            display = decode_header_text(display)
            if address and display and display != address:
                return clean_text(f"{display} <{address}>")
            if address or display:
                return clean_text(address or display)
    raise MalformedMessage("no sender: the message has no From header with an address")


def _recipients(headers: dict[str, list[str]]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for name in RECIPIENT_HEADERS:
        values = [_raw_text(v) for v in headers.get(name, [])]
        for _display, address in getaddresses(values):
            address = address.strip().strip("<>").lower()
            if "@" in address and len(address) <= 320:
                seen.setdefault(address, None)
    return tuple(seen)


def _message_id(headers: dict[str, list[str]]) -> str | None:
    for raw in headers.get("message-id", [])[:1]:
        text = _raw_text(raw).strip()
        match = re.search(r"<([^<>\s]+)>", text)
        value = match.group(1) if match else text.split(" ", 1)[0]
        if value:
            return value[:998]
    return None


def _date(headers: dict[str, list[str]], now: datetime) -> datetime | None:
    for raw in headers.get("date", [])[:1]:
        try:
            moment = parsedate_to_datetime(_raw_text(raw).strip())
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        # A Date from the future or from long ago is the sender's clock, not the arrival.
        if now - timedelta(days=30) <= moment <= now + timedelta(minutes=5):
            return min(moment, now).astimezone(UTC)
    return None


# Elements whose text is not shown, and those that start a new line of what is.
_HIDDEN = frozenset({"script", "style", "head", "title", "template"})
_BLOCKS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "td",
        "th",
        "tr",
        "ul",
    ]
)


class _VisibleText:
    """An lxml parser target (callbacks, no tree) keeping the text a reader would see."""

    def __init__(self) -> None:
        self.chunks: list[str] = []
        self._hidden = 0

    def start(self, tag: str, _attrib: object) -> None:
        if tag in _HIDDEN:
            self._hidden += 1
        elif tag in _BLOCKS:
            self.chunks.append(" ")

    def end(self, tag: str) -> None:
        if tag in _HIDDEN and self._hidden:
            self._hidden -= 1
        elif tag in _BLOCKS:
            self.chunks.append(" ")

    def data(self, data: str) -> None:
        if not self._hidden:
            self.chunks.append(data)

    def close(self) -> str:
        return "".join(self.chunks)


def html_to_text(markup: str) -> str:
    """The visible text of an HTML body (scripts, styles and tags removed, entities decoded).

    libxml2's HTML parser (C, through lxml) reads each character a bounded number of times
    whatever the markup, and only the first ``MAX_BODY_CHARS`` are given to it: the
    standard library's ``HTMLParser`` rescans unclosed tags and took 28 s (``"<a " * 20000``)
    to minutes (``"<a b=" * 40000``) for 200 K characters. Never raises.
    """
    parser = etree.HTMLParser(target=_VisibleText(), no_network=True, encoding="utf-8")
    try:
        # As bytes: a lone surrogate (from a lying charset) becomes "?" instead of an error.
        parser.feed(markup[:MAX_BODY_CHARS].encode("utf-8", "replace"))
        text: str = parser.close()
    except (etree.LxmlError, ValueError):
        return ""  # the headers still make a notification
    return text


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_param("charset")
    name = charset if isinstance(charset, str) else None
    return decode_bytes(payload[: MAX_BODY_CHARS * 4], name)[:MAX_BODY_CHARS]


def body_text(message: Message) -> str:
    """The message's readable text: its first inline text/plain part, else its HTML's text."""
    plain: Message | None = None
    html: Message | None = None
    for count, part in enumerate(message.walk()):
        if count >= MAX_PARTS:
            break
        if part.is_multipart():
            continue
        disposition = str(part.get("content-disposition", "")).split(";", 1)[0].strip().lower()
        if disposition == "attachment":
            continue
        kind = part.get_content_type()
        if kind == "text/plain" and plain is None:
            plain = part
        elif kind == "text/html" and html is None:
            html = part
    if plain is not None:
        return _part_text(plain)
    if html is not None:
        return html_to_text(_part_text(html))
    return ""


def find_dossier(pattern: re.Pattern[str], *texts: str) -> str | None:
    """The first match of ``pattern`` in the texts, in order (its first group, if it has one)."""
    for text in texts:
        match = pattern.search(text)
        if match:
            found = match.group(1) if pattern.groups else match.group(0)
            found = clean_text(found or "", 200)
            if found:
                return found
    return None


def parse_message(
    raw: bytes,
    *,
    dossier_pattern: re.Pattern[str] | str = DEFAULT_DOSSIER_PATTERN,
    max_bytes: int = MAX_MESSAGE_BYTES,
    total_size: int | None = None,
    now: datetime | None = None,
) -> ParsedMail:
    """Read the notification's fields from a message's bytes (at most ``max_bytes`` of them).

    ``total_size`` is the message's real size when ``raw`` is already only its beginning.

    Raises:
        MalformedMessage: no header at all, or no sender.
    """
    pattern = re.compile(dossier_pattern) if isinstance(dossier_pattern, str) else dossier_pattern
    size = max(total_size or 0, len(raw))
    data = bytes(raw[:max_bytes])
    if not data.strip():
        raise MalformedMessage("empty message")
    try:
        message = message_from_bytes(data, policy=compat32)
        headers = _headers(message)
        if not headers:
            raise MalformedMessage("no header: this is not an RFC 822 message")
        sender = _sender(headers)
        subject = decode_header_text(" ".join(headers.get("subject", [])[:1]))
        try:
            text = body_text(message)
        except (LookupError, ValueError, TypeError, AttributeError, RecursionError):
            text = ""  # broken MIME: the headers still make a notification
        return ParsedMail(
            subject=subject,
            sender=sender,
            recipients=_recipients(headers),
            message_id=_message_id(headers),
            dossier_number=find_dossier(pattern, subject, text),
            date=_date(headers, now or datetime.now(UTC)),
            truncated=size > len(data),
            fingerprint=f"{hashlib.sha256(data).hexdigest()}:{size}",
        )
    except MalformedMessage:
        raise
    except (RecursionError, MemoryError) as exc:
        raise MalformedMessage(f"unreadable structure ({type(exc).__name__})") from None
    except Exception as exc:
        # The standard library's parser has odd corners (IndexError on some folding,
        # HeaderParseError…): one message must never take the watcher down.
        raise MalformedMessage(f"unreadable message ({type(exc).__name__}: {exc})") from None
