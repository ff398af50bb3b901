"""VAPID keys in both forms, the subject rules, the push settings and `tocsin vapid generate`."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from py_vapid import Vapid02

from tocsin.cli import main
from tocsin.config import DEFAULT_PUSH_SERVICES, ConfigError, load_settings
from tocsin.push.vapid import (
    b64url,
    b64url_decode,
    check_subject,
    generate,
    load_private_key,
    origin_of,
)

SUBJECT = "mailto:ops@cabinet-exemple.fr"


def _pem(key: ec.EllipticCurvePrivateKey, form: serialization.PrivateFormat) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, form, serialization.NoEncryption()
    ).decode()


def test_generate_round_trips() -> None:
    keys = generate()
    assert len(b64url_decode(keys.private_key)) == 32
    point = b64url_decode(keys.public_key)
    assert len(point) == 65 and point[0] == 4
    assert "=" not in keys.private_key + keys.public_key
    loaded = load_private_key(keys.private_key)
    assert loaded.public_key == keys.public_key
    assert loaded.private_raw == keys.private_key
    assert generate().private_key != keys.private_key


@pytest.mark.parametrize(
    "form", [serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL]
)
def test_raw_and_pem_give_the_same_public_key(form: serialization.PrivateFormat) -> None:
    keys = generate()
    key = load_private_key(keys.private_key).private_key
    pem = _pem(key, form)
    assert load_private_key(pem).public_key == keys.public_key
    # As some env files hold it: on one line, with literal \n.
    assert load_private_key(pem.replace("\n", "\\n")).public_key == keys.public_key
    # Padded base64url, as some tools print it.
    assert load_private_key(keys.private_key + "=").public_key == keys.public_key


def test_public_key_agrees_with_py_vapid() -> None:
    keys = generate()
    theirs = Vapid02.from_raw(keys.private_key.encode()).public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert b64url(theirs) == keys.public_key


def test_authorization_verifies_and_carries_fresh_claims() -> None:
    key = load_private_key(generate().private_key)
    first = key.authorization(audience="https://fcm.googleapis.com", subject=SUBJECT, now=1000)
    second = key.authorization(
        audience="https://updates.push.services.mozilla.com", subject=SUBJECT
    )
    for header in (first, second):
        assert Vapid02.verify(header)
    token = first.split(" t=")[1].split(",k=")[0]
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims == {"aud": "https://fcm.googleapis.com", "exp": 1000 + 12 * 3600, "sub": SUBJECT}
    assert first.endswith(",k=" + key.public_key)
    assert "mozilla" not in first


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "32 bytes"),
        ("abc", "32 bytes"),
        ("not base64 at all!", "neither PEM nor"),
        (b64url(b"\xff" * 32), "out of range"),
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "PEM"),
    ],
)
def test_bad_keys_are_refused_without_echoing_them(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        load_private_key(text)
    if text:
        assert text not in str(caught.value)


def test_keys_of_another_kind_are_refused() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for other in (p384, rsa_key):
        pem = other.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        with pytest.raises(ValueError, match="P-256"):
            load_private_key(pem)


@pytest.mark.parametrize(
    "subject",
    ["mailto:ops@cabinet-exemple.fr", "https://cabinet-exemple.fr", "https://x.fr/contact"],
)
def test_good_subjects(subject: str) -> None:
    assert check_subject(subject) == subject


@pytest.mark.parametrize(
    ("subject", "message"),
    [
        ("mailto:ops@localhost", "Apple"),
        ("mailto:ops@app.localhost", "Apple"),
        ("https://localhost/contact", "Apple"),
        ("ops@cabinet-exemple.fr", "mailto: address or an https: URL"),
        ("http://cabinet-exemple.fr", "mailto: address or an https: URL"),
        ("mailto:ops", "full address"),
        ("mailto:ops@intranet", "full address"),
        ("https://", "needs a host"),
    ],
)
def test_bad_subjects(subject: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_subject(subject)


def test_origin_of_endpoints() -> None:
    assert origin_of("https://fcm.googleapis.com/fcm/send/abc") == "https://fcm.googleapis.com"
    assert origin_of("HTTPS://Web.Push.Apple.com:443/x") == "https://web.push.apple.com"
    assert origin_of("http://127.0.0.1:8123/push/x") == "http://127.0.0.1:8123"
    with pytest.raises(ValueError):
        origin_of("mailto:x@y.fr")


# -- settings -----------------------------------------------------------------------------


def test_push_settings_defaults() -> None:
    settings = load_settings()
    assert settings.vapid_private_key is None and settings.vapid_subject is None
    assert settings.push_ttl == 86_400
    assert settings.push_services == list(DEFAULT_PUSH_SERVICES)


def test_push_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = generate()
    monkeypatch.setenv("TOCSIN_VAPID_PRIVATE_KEY", keys.private_key)
    monkeypatch.setenv("TOCSIN_VAPID_SUBJECT", SUBJECT)
    monkeypatch.setenv("TOCSIN_PUSH_TTL", "600")
    monkeypatch.setenv("TOCSIN_PUSH_SERVICES", "http://127.0.0.1:*, https://fcm.googleapis.com/*,")
    settings = load_settings()
    assert load_private_key(settings.vapid_private_key or "").public_key == keys.public_key
    assert settings.vapid_subject == SUBJECT
    assert settings.push_ttl == 600
    assert settings.push_services == ["http://127.0.0.1:*", "https://fcm.googleapis.com/*"]
    assert keys.private_key not in repr(settings)


def test_a_bad_key_names_the_variable_and_hides_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = generate().private_key[:-4]
    monkeypatch.setenv("TOCSIN_VAPID_PRIVATE_KEY", wrong)
    monkeypatch.setenv("TOCSIN_VAPID_SUBJECT", SUBJECT)
    with pytest.raises(ConfigError, match="TOCSIN_VAPID_PRIVATE_KEY") as caught:
        load_settings()
    assert wrong not in str(caught.value)


@pytest.mark.parametrize(
    ("subject", "message"),
    [
        (None, "required with TOCSIN_VAPID_PRIVATE_KEY"),
        ("mailto:admin@localhost", "Apple's push service refuses a localhost subject"),
        ("admin@cabinet-exemple.fr", "must be a mailto: address or an https: URL"),
    ],
)
def test_a_bad_subject_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, subject: str | None, message: str
) -> None:
    monkeypatch.setenv("TOCSIN_VAPID_PRIVATE_KEY", generate().private_key)
    if subject is not None:
        monkeypatch.setenv("TOCSIN_VAPID_SUBJECT", subject)
    with pytest.raises(ConfigError, match=f"TOCSIN_VAPID_SUBJECT: {message}"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TOCSIN_PUSH_TTL", "0"),
        ("TOCSIN_PUSH_TTL", "-5"),
        ("TOCSIN_PUSH_SERVICES", "ftp://push.example/*"),
        ("TOCSIN_PUSH_SERVICES", "fcm.googleapis.com"),
    ],
)
def test_bad_push_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_settings()


def test_cli_vapid_generate_prints_a_usable_setting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["vapid", "generate"]) == 0
    out, err = capsys.readouterr()
    setting, public = out.splitlines()
    name, _, value = setting.partition("=")
    assert name == "TOCSIN_VAPID_PRIVATE_KEY"
    assert public.startswith("# ") and public.endswith(load_private_key(value).public_key)
    assert "TOCSIN_VAPID_SUBJECT" in err
