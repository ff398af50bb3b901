"""The two Origin checks behind a reverse proxy agree: the HTTP API's (cookie writes,
``tocsin.api.csrf``) and python-engineio's (sockets), on what nginx and browsers send."""

from __future__ import annotations

import pytest

from tocsin.api.csrf import own_origins, parse_origin
from tocsin.realtime.engine import EngineServer

# (headers as the proxy forwards them, the page's Origin, accepted?)
CASES = [
    # deploy/nginx.conf: Host $http_host (with the port), X-Forwarded-Proto.
    ({"host": "127.0.0.1:8080", "x-forwarded-proto": "http"}, "http://127.0.0.1:8080", True),
    ({"host": "app.example.com", "x-forwarded-proto": "https"}, "https://app.example.com", True),
    (
        {"host": "app.example.com:8443", "x-forwarded-proto": "https"},
        "https://app.example.com:8443",
        True,
    ),
    # The old Host $host: the port is gone, the page's Origin no longer matches.
    ({"host": "127.0.0.1", "x-forwarded-proto": "http"}, "http://127.0.0.1:8080", False),
    (
        {"host": "app.example.com", "x-forwarded-proto": "https"},
        "https://app.example.com:8443",
        False,
    ),
    # A proxy that keeps its own Host and says the outer one in X-Forwarded-Host.
    (
        {
            "host": "tocsin:8000",
            "x-forwarded-host": "app.example.com:8443",
            "x-forwarded-proto": "https",
        },
        "https://app.example.com:8443",
        True,
    ),
    ({"host": "tocsin:8000", "x-forwarded-host": "a.example, b.example"}, "http://a.example", True),
    (
        {"host": "tocsin:8000", "x-forwarded-host": "a.example, b.example"},
        "http://b.example",
        False,
    ),
    # Neither scheme nor host may differ.
    ({"host": "app.example.com", "x-forwarded-proto": "https"}, "http://app.example.com", True),
    ({"host": "app.example.com"}, "https://app.example.com", False),
    ({"host": "app.example.com", "x-forwarded-proto": "https"}, "https://evil.example", False),
]


@pytest.mark.parametrize(("headers", "origin", "accepted"), CASES)
def test_the_api_and_the_engine_accept_the_same_origins(
    headers: dict[str, str], origin: str, accepted: bool
) -> None:
    api = parse_origin(origin) in own_origins("http", headers)
    environ = {"wsgi.url_scheme": "http"}
    environ.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})
    engine = origin in EngineServer(async_mode="asgi")._cors_allowed_origins(environ)
    assert (api, engine) == (accepted, accepted)
