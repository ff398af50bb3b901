"""Push endpoints must belong to an allowed push service: the server POSTs to them."""

from __future__ import annotations

import pytest

from tocsin.push.allowlist import endpoint_allowed, parse_pattern

BROWSERS = [
    parse_pattern(p)
    for p in (
        "https://fcm.googleapis.com/*",
        "https://*.push.services.mozilla.com/*",
        "https://web.push.apple.com/*",
    )
]
LOOPBACK = [parse_pattern("http://127.0.0.1:*")]


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://fcm.googleapis.com/fcm/send/abc:def",
        "https://FCM.googleapis.com/wp/abc",
        "https://updates.push.services.mozilla.com/wpush/v2/gAAA",
        "https://web.push.apple.com/QGx",
        "https://fcm.googleapis.com:443/fcm/send/x",
    ],
)
def test_the_browsers_push_services_are_allowed(endpoint: str) -> None:
    assert endpoint_allowed(endpoint, BROWSERS)


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://fcm.googleapis.com/fcm/send/x",  # not https
        "https://fcm.googleapis.com.evil.example/x",
        "https://evil.example/fcm.googleapis.com/x",
        "https://fcm.googleapis.com@169.254.169.254/latest/meta-data",
        "https://user:pw@fcm.googleapis.com/x",
        "https://push.services.mozilla.com/x",  # "*." is a subdomain, not the domain itself
        "https://fcm.googleapis.com:8443/x",
        "https://127.0.0.1/x",
        "https://[::1]/x",
        "https://fcm.googleapis.com\\@evil.example/x",
        "https://fcm.googleapis.com/x y",
        "https://fcm.googleapis.com/" + "x" * 3000,
        "https://fcm.googleapis.com:99999/x",
        "ftp://fcm.googleapis.com/x",
        "not a url",
        "",
    ],
)
def test_anything_else_is_refused(endpoint: str) -> None:
    assert not endpoint_allowed(endpoint, BROWSERS)


def test_a_loopback_service_for_tests_on_any_port() -> None:
    assert endpoint_allowed("http://127.0.0.1:41234/push/abc", LOOPBACK)
    assert not endpoint_allowed("http://127.0.0.2:41234/push/abc", LOOPBACK)
    assert not endpoint_allowed("https://127.0.0.1:41234/push/abc", LOOPBACK)


@pytest.mark.parametrize(
    "pattern", ["fcm.googleapis.com", "ftp://x/*", "https://:443/", "https://h:x/"]
)
def test_bad_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match="push service"):
        parse_pattern(pattern)
