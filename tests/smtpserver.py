"""A real SMTP server (aiosmtpd) on 127.0.0.1 and a free port, recording what it is sent.

As a context manager (it runs in a thread of its own, so sync and async tests, in-process
nodes and subprocess nodes can all reach it)::

    with SmtpServer() as smtp:
        settings = make_settings(url, smtp_url=smtp.url, mail_from="t@tocsin.test")
        ...
        [mail] = await smtp.arrived(1)
        assert mail.message["Subject"] == "…"

or through the ``smtp_server`` fixture below (import it into a test module or a conftest).
``tls="starttls"`` or ``"implicit"`` serves a certificate of a CA made for the occasion:
point ``SSL_CERT_FILE`` at ``ca_file`` so that clients trust it. ``login=(user, password)``
requires AUTH (offered only over TLS). ``fail_next(451)`` makes the next transaction fail.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import ipaddress
import ssl
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.helpers import listening_socket

Stage = Literal["MAIL", "RCPT", "DATA"]
TlsMode = Literal["none", "starttls", "implicit"]


@dataclass(frozen=True)
class ReceivedMail:
    """One message as the server took it: the envelope, the parsed message, the session."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    raw: bytes
    login: str | None
    tls: bool

    def body(self, subtype: Literal["plain", "html"]) -> str:
        """The decoded ``text/<subtype>`` part, lines ending in ``\\n`` (not the wire's CRLF).

        Raises:
            AssertionError: the message has no such part.
        """
        for part in self.message.walk():
            if part.get_content_type() == f"text/{subtype}" and not part.is_multipart():
                content = part.get_content()
                assert isinstance(content, str)
                return content.replace("\r\n", "\n")
        raise AssertionError(f"no text/{subtype} part in {self.message['Subject']!r}")


@dataclass(frozen=True)
class _Failure:
    stage: Stage
    answer: str


class _Handler:
    """aiosmtpd's hooks: refuse on demand, record what is accepted."""

    def __init__(self, owner: SmtpServer) -> None:
        self.owner = owner

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.owner.login is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        failure = self.owner._take("MAIL")
        if failure is not None:
            return failure
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        failure = self.owner._take("RCPT")
        if failure is not None:
            return failure
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        failure = self.owner._take("DATA")
        if failure is not None:
            return failure
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        transport = server.transport
        tls = session.ssl is not None or (
            transport is not None and transport.get_extra_info("ssl_object") is not None
        )
        login = session.auth_data.login.decode() if session.auth_data is not None else None
        mail = ReceivedMail(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            message=message,
            raw=raw,
            login=login,
            tls=tls,
        )
        number = self.owner._record(mail)
        return f"250 2.0.0 Ok: queued as {number}"


class _Controller(Controller):
    """aiosmtpd's controller on a socket bound beforehand (a free port, no race)."""

    def __init__(self, handler: _Handler, sock: Any, **kwargs: Any) -> None:
        self._sock = sock
        super().__init__(handler, hostname="127.0.0.1", port=sock.getsockname()[1], **kwargs)

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)


class SmtpServer:
    """A real SMTP server on 127.0.0.1; see the module's docstring."""

    def __init__(self, *, tls: TlsMode = "none", login: tuple[str, str] | None = None) -> None:
        self.tls = tls
        self.login = login
        self.host = "127.0.0.1"
        self.port = 0
        self.ca_file = ""
        self._mails: list[ReceivedMail] = []
        self._failures: list[_Failure] = []
        self._changed = threading.Condition()
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._controller: _Controller | None = None

    @property
    def url(self) -> str:
        """``TOCSIN_SMTP_URL`` for this server (with its login, and TLS as it serves it)."""
        scheme = "smtps" if self.tls == "implicit" else "smtp"
        user = f"{self.login[0]}:{self.login[1]}@" if self.login else ""
        query = "?starttls=true" if self.tls == "starttls" else ""
        return f"{scheme}://{user}{self.host}:{self.port}{query}"

    @property
    def messages(self) -> list[ReceivedMail]:
        """What the server accepted so far, oldest first."""
        with self._changed:
            return list(self._mails)

    def fail_next(self, code: int, text: str | None = None, *, at: Stage = "RCPT") -> None:
        """Answer ``code`` (e.g. 451, 550) at ``at`` in the next transaction that gets there."""
        words = text or ("Try again later" if code < 500 else "No such user here")
        enhanced = f"{code // 100}.{'1.1' if at == 'RCPT' else '0.0'}"
        with self._changed:
            self._failures.append(_Failure(at, f"{code} {enhanced} {words}"))

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedMail]:
        """The first ``count`` messages, once they are all here.

        Raises:
            AssertionError: fewer arrived within ``timeout`` seconds.
        """
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._mails) >= count, timeout):
                raise AssertionError(
                    f"{len(self._mails)} message(s) at the SMTP server after {timeout} s, "
                    f"expected {count}"
                )
            return self._mails[:count]

    async def arrived(self, count: int, timeout: float = 10.0) -> list[ReceivedMail]:
        """:meth:`wait_for` without blocking the caller's event loop."""
        return await asyncio.to_thread(self.wait_for, count, timeout)

    def _handler(self) -> _Handler:
        """aiosmtpd's hooks for this server (a subclass may extend them)."""
        return _Handler(self)

    def _take(self, stage: Stage) -> str | None:
        with self._changed:
            for index, failure in enumerate(self._failures):
                if failure.stage == stage:
                    del self._failures[index]
                    return failure.answer
        return None

    def _record(self, mail: ReceivedMail) -> int:
        with self._changed:
            self._mails.append(mail)
            self._changed.notify_all()
            return len(self._mails)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert self.login is not None
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        accepted = (data.login.decode(), data.password.decode()) == self.login
        # handled=False: aiosmtpd then answers 535 itself (it defaults to True: silence).
        return AuthResult(success=accepted, handled=False, auth_data=data if accepted else None)

    def start(self) -> SmtpServer:
        """Listen on a free port (and make the certificates TLS needs)."""
        kwargs: dict[str, Any] = {"server_hostname": "smtp.tocsin.test", "ready_timeout": 10.0}
        if self.tls != "none":
            self._dir = tempfile.TemporaryDirectory(prefix="tocsin-smtp-")
            context = _server_context(Path(self._dir.name))
            self.ca_file = str(Path(self._dir.name) / "ca.pem")
            if self.tls == "implicit":
                kwargs["ssl_context"] = context
            else:
                kwargs.update(tls_context=context, require_starttls=True)
        if self.login is not None:
            kwargs["authenticator"] = self._authenticate
            # aiosmtpd sees only STARTTLS as TLS: under implicit TLS it must be told AUTH is fine.
            kwargs["auth_require_tls"] = self.tls == "starttls"
        sock = listening_socket()
        self.port = sock.getsockname()[1]
        self._controller = _Controller(self._handler(), sock, **kwargs)
        try:
            self._controller.start()
        except BaseException:
            sock.close()
            raise
        return self

    def stop(self) -> None:
        """Close the server and remove its certificates."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _server_context(directory: Path) -> ssl.SSLContext:
    """A server context with a certificate for 127.0.0.1 signed by a fresh CA, whose
    certificate is left in ``directory/ca.pem``."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tocsin test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (directory / "ca.pem").write_bytes(ca.public_bytes(pem))
    (directory / "server.pem").write_bytes(leaf.public_bytes(pem))
    (directory / "server.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(directory / "server.pem", directory / "server.key")
    return context


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A plain SMTP server for one test."""
    with SmtpServer() as server:
        yield server
