"""VAPID keys and signatures (RFC 8292): the server's identity towards push services.

``TOCSIN_VAPID_PRIVATE_KEY`` is a P-256 private key, either base64url raw (32 bytes, as
``web-push generate-vapid-keys`` and ``tocsin vapid generate`` print it) or PEM. Browsers
take the public key as ``applicationServerKey``: the base64url uncompressed point.
"""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

RAW_KEY_BYTES = 32
# RFC 8292 §2: a push service may refuse an `exp` more than 24 hours ahead.
TOKEN_LIFETIME = 12 * 3600
_DEFAULT_PORTS = {"http": 80, "https": 443}


def b64url(data: bytes) -> str:
    """``data`` in unpadded base64url, the encoding of every Web Push key."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url (or plain base64) with or without padding, strictly.

    Raises:
        ValueError: not base64url.
    """
    text = text.rstrip("=").replace("+", "-").replace("/", "_")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


class GeneratedKeys(NamedTuple):
    """A new key pair as ``tocsin vapid generate`` prints it."""

    private_key: str  # base64url raw, the value of TOCSIN_VAPID_PRIVATE_KEY
    public_key: str  # base64url uncompressed point, the applicationServerKey


@dataclass(frozen=True)
class VapidKey:
    """A loaded VAPID private key and its public key as browsers take it."""

    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    public_key: str
    _signer: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # no-strict: the subject is checked by check_subject, whose rules are ours (py_vapid's
        # own refuses an https: subject with a path, which RFC 8292 allows).
        signer = Vapid02(private_key=self.private_key, conf={"no-strict": True})
        object.__setattr__(self, "_signer", signer)

    @property
    def private_raw(self) -> str:
        """The private key in base64url raw form (a secret: never log it)."""
        value = self.private_key.private_numbers().private_value
        return b64url(value.to_bytes(RAW_KEY_BYTES, "big"))

    def authorization(self, *, audience: str, subject: str, now: float | None = None) -> str:
        """The ``Authorization: vapid t=…, k=…`` header value for one push service.

        ``audience`` is the origin of the endpoint (``origin_of``); the token expires in
        12 hours. A fresh claims dict is built on every call, so that one push service's
        ``aud`` never leaks into the next.

        Raises:
            ValueError: the audience is not an origin.
        """
        claims = {
            "aud": audience,
            "exp": int(now if now is not None else time.time()) + TOKEN_LIFETIME,
            "sub": subject,
        }
        try:
            header: str = self._signer.sign(claims)["Authorization"]
        except Exception as exc:  # py_vapid raises VapidException, a bare Exception
            raise ValueError(f"cannot sign VAPID claims: {exc}") from None
        return header


def _public_b64(key: ec.EllipticCurvePrivateKey) -> str:
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url(point)


def load_private_key(text: str) -> VapidKey:
    """Load ``TOCSIN_VAPID_PRIVATE_KEY``: base64url raw P-256 key or PEM.

    A PEM given on one line with literal ``\\n`` (as some env files hold it) is accepted.

    Raises:
        ValueError: not such a key; the message never contains the key.
    """
    text = text.strip()
    if text.startswith("-----BEGIN"):
        pem = text.replace("\\n", "\n").encode("ascii", "replace")
        try:
            loaded = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError):
            raise ValueError("not a readable unencrypted PEM private key") from None
        if not isinstance(loaded, ec.EllipticCurvePrivateKey) or not isinstance(
            loaded.curve, ec.SECP256R1
        ):
            raise ValueError("a VAPID key must be an EC key on the P-256 curve")
        return VapidKey(private_key=loaded, public_key=_public_b64(loaded))
    try:
        raw = b64url_decode(text)
    except ValueError:
        raise ValueError("neither PEM nor a base64url raw P-256 private key") from None
    if len(raw) != RAW_KEY_BYTES:
        raise ValueError(
            f"a raw P-256 private key is {RAW_KEY_BYTES} bytes ({len(raw)} given); "
            "`tocsin vapid generate` makes one"
        )
    try:
        key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    except ValueError:
        raise ValueError("not a valid P-256 private key (out of range)") from None
    return VapidKey(private_key=key, public_key=_public_b64(key))


def generate() -> GeneratedKeys:
    """A new VAPID key pair, both halves in base64url."""
    private = ec.generate_private_key(ec.SECP256R1())
    key = VapidKey(private_key=private, public_key=_public_b64(private))
    return GeneratedKeys(private_key=key.private_raw, public_key=key.public_key)


def _refuse_localhost(host: str) -> None:
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        raise ValueError(
            "Apple's push service refuses a localhost subject: give an address or a site "
            "of yours, e.g. mailto:ops@example.com"
        )


def check_subject(subject: str) -> str:
    """Check a VAPID subject (``TOCSIN_VAPID_SUBJECT``): how a push service reaches you.

    Raises:
        ValueError: not ``mailto:user@domain`` nor an ``https:`` URL, or a localhost one.
    """
    example = "e.g. mailto:ops@example.com or https://example.com/contact"
    subject = subject.strip()
    if subject.lower().startswith("mailto:"):
        local, at, domain = subject[len("mailto:") :].rpartition("@")
        _refuse_localhost(domain)
        if not at or not local or "." not in domain.strip(".") or " " in subject:
            raise ValueError(f"mailto: needs a full address, {example}")
        return subject
    if subject.lower().startswith("https:"):
        try:
            host = urlsplit(subject).hostname
        except ValueError:
            host = None
        if not host:
            raise ValueError(f"https: subject needs a host, {example}")
        _refuse_localhost(host)
        return subject
    raise ValueError(f"must be a mailto: address or an https: URL, {example}")


def origin_of(endpoint: str) -> str:
    """The origin (``scheme://host[:port]``) of a push endpoint: the VAPID ``aud``.

    Raises:
        ValueError: not an http(s) URL with a host.
    """
    parts = urlsplit(endpoint)
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host:
        raise ValueError("a push endpoint must be an http(s) URL with a host")
    port = parts.port
    if ":" in host:
        host = f"[{host}]"
    if port in (None, _DEFAULT_PORTS[scheme]):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"
