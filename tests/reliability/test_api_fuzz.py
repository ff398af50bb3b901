"""API fuzz: schemathesis (4.32.5) against the live OpenAPI of a real node.

Every operation of ``/openapi.json`` gets schema-valid and schema-violating requests
(schemathesis' positive and negative modes), with real credentials: the admin key for the
publishing and deadline endpoints, a user token for the inbox. The contract: no 5xx, ever;
every 4xx is JSON with an ``error`` field. Runs on SQLite and on PostgreSQL, whose text
columns refuse what SQLite stores (NUL characters, 64-bit overflows).

``TOCSIN_API_FUZZ_EXAMPLES`` (default 20 in ``make test``; ``make reliability`` runs 150) is
the number of examples per operation and mode.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Err

from tests.conftest import make_settings
from tests.helpers import ADMIN_KEY, ServerThread, token
from tests.reliability.results import Result, pytest_command

HERE = "tests/reliability/test_api_fuzz.py"
EXAMPLES = int(os.environ.get("TOCSIN_API_FUZZ_EXAMPLES", "20"))
USER = token("fuzz-user", "fuzz-tenant")


@pytest.fixture
def fuzzed(store_url: str) -> Iterator[ServerThread]:
    node = ServerThread(make_settings(store_url, publish_rate=1e6, publish_burst=1e6))
    node.start()
    try:
        yield node
    finally:
        node.close()


def _auth_for(path: str) -> str:
    user_routes = ("/api/v1/inbox", "/api/v1/preferences")
    return USER if path.startswith(user_routes) else ADMIN_KEY


def _verdict(response: requests.Response) -> str | None:
    """Why this response breaks the contract, or None."""
    if response.status_code >= 500:
        return f"{response.status_code}"
    if 400 <= response.status_code < 500:
        try:
            body = response.json()
        except ValueError:
            return f"{response.status_code} without a JSON body"
        if not isinstance(body, dict) or not isinstance(body.get("error"), str):
            return f"{response.status_code} JSON without an error field"
    return None


def _runner(
    operation: Any,
    mode: GenerationMode,
    auth: dict[str, str],
    base_url: str,
    session: requests.Session,
    statuses: Counter[int],
    failures: dict[str, list[str]],
) -> Any:
    """A hypothesis test over one operation in one mode; calling it returns its call count."""
    calls = 0

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, headers=auth))
    def call(case: Any) -> None:
        nonlocal calls
        calls += 1
        try:
            response = case.call(base_url=base_url, session=session, timeout=30)
        except requests.RequestException as exc:
            problem: str | None = f"connection error: {type(exc).__name__}"
            status = 0
        else:
            status = response.status_code
            problem = _verdict(response)
        statuses[status] += 1
        if problem is not None:
            examples = failures.setdefault(f"{operation.label}: {problem}", [])
            if len(examples) < 3:
                examples.append(case.as_curl_command(headers=auth)[:600])

    def run() -> int:
        call()
        return calls

    return run


def test_no_request_gets_a_server_error_and_every_4xx_is_json(
    fuzzed: ServerThread, request: pytest.FixtureRequest
) -> None:
    began = time.monotonic()
    schema = schemathesis.openapi.from_url(f"{fuzzed.url}/openapi.json", timeout=30)
    statuses: Counter[int] = Counter()
    failures: dict[str, list[str]] = {}
    calls = 0
    operations = 0
    session = requests.Session()
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise AssertionError(f"/openapi.json has an invalid operation: {result.err()}")
        operation = result.ok()
        operations += 1
        auth = {"Authorization": f"Bearer {_auth_for(operation.path)}"}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run = _runner(operation, mode, auth, fuzzed.url, session, statuses, failures)
            with contextlib.suppress(Unsatisfiable):
                # Unsatisfiable: nothing in this operation can be made invalid (no parameters).
                calls += run()
    session.close()
    took = time.monotonic() - began
    server_errors = sum(n for s, n in statuses.items() if s >= 500 or s == 0)
    store = request.node.callspec.params.get("store_url", "sqlite")
    Result(
        key=f"api-fuzz-{store}",
        title=f"API fuzz, schemathesis ({store})",
        tried=f"{operations} operations of /openapi.json x positive and negative modes x "
        f"{EXAMPLES} examples, admin key / user token",
        times=calls,
        command=pytest_command(
            f"{HERE}::test_no_request_gets_a_server_error_and_every_4xx_is_json[{store}]"
        ),
        passed=not failures,
        details={
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "server_errors": server_errors,
            "failures": {k: v for k, v in sorted(failures.items())},
            "seconds": round(took, 1),
        },
    ).write()
    print(
        f"\napi fuzz ({store}): {calls} requests over {operations} operations in {took:.1f}s; "
        f"statuses {dict(sorted(statuses.items()))}"
    )
    report = "\n".join(f"{key}\n    " + "\n    ".join(cases) for key, cases in failures.items())
    assert not failures, f"{len(failures)} kinds of contract breach:\n{report}"


NUL = "\x00"
FINDINGS: list[tuple[str, str, str, dict[str, Any] | None]] = [
    # (name, method, path, JSON body): what the fuzzer found once, replayed every time.
    (
        "NUL in a notification id",
        "POST",
        "/api/v1/notifications",
        {
            "event": "email-received",
            "subject": "s",
            "from": "f",
            "userId": "u",
            "tenantId": "t",
            "id": f"id{NUL}x",
        },
    ),
    (
        "NUL in a tenant id",
        "POST",
        "/api/v1/notifications",
        {
            "event": "system-notification",
            "title": "t",
            "message": "m",
            "type": "info",
            "tenantId": f"t{NUL}",
        },
    ),
    (
        "NUL in one item of a batch",
        "POST",
        "/api/v1/notifications/batch",
        {
            "notifications": [
                {
                    "event": "email-received",
                    "subject": "s",
                    "from": "f",
                    "userId": "u",
                    "tenantId": "t",
                    "id": "fine",
                },
                {
                    "event": "email-received",
                    "subject": "s",
                    "from": "f",
                    "userId": f"u{NUL}",
                    "tenantId": "t",
                    "id": "nul",
                },
            ]
        },
    ),
    ("NUL in ids to mark read", "POST", "/api/v1/inbox/read", {"ids": [f"a{NUL}"]}),
    (
        "NUL in a deadline id",
        "PUT",
        "/api/v1/deadlines/d%00",
        {
            "dossierNumber": "D-1",
            "deadlineType": "OQTF",
            "dueAt": "2026-03-10",
            "userId": "u",
            "tenantId": "t",
        },
    ),
    ("cursor beyond 64 bits in upTo", "POST", "/api/v1/inbox/read-all", {"upTo": 10**30}),
    (
        # Converting to UTC overflowed (OverflowError is not a ValueError: pydantic let it out).
        "timestamp of year 1 with a positive offset",
        "POST",
        "/api/v1/notifications/batch",
        {
            "notifications": [
                {"event": "system-notification", "title": "t", "message": "m", "type": "info"},
                {
                    "event": "system-notification",
                    "title": "t",
                    "message": "m",
                    "type": "info",
                    "timestamp": "0001-01-01T00:00:00+01:00",
                },
            ]
        },
    ),
    (
        "timestamp of year 9999 with a negative offset",
        "POST",
        "/api/v1/notifications",
        {
            "event": "email-received",
            "subject": "s",
            "from": "f",
            "userId": "u",
            "tenantId": "t",
            "timestamp": "9999-12-31T23:59:59-01:00",
        },
    ),
    (
        "deadline due on the last day of year 9999",
        "PUT",
        "/api/v1/deadlines/d-9999",
        {
            "dossierNumber": "D-1",
            "deadlineType": "OQTF",
            "dueAt": "9999-12-31",
            "userId": "u",
            "tenantId": "t",
        },
    ),
]


@pytest.mark.parametrize(("name", "method", "path", "body"), FINDINGS, ids=[f[0] for f in FINDINGS])
def test_what_the_fuzzer_found_is_a_client_error(
    fuzzed: ServerThread, name: str, method: str, path: str, body: dict[str, Any] | None
) -> None:
    """Replayed on both stores: PostgreSQL text cannot hold NUL, so these must be 4xx there."""
    auth = {"Authorization": f"Bearer {_auth_for(path)}"}
    response = requests.request(method, fuzzed.url + path, json=body, headers=auth, timeout=30)
    assert _verdict(response) is None, f"{name}: {response.status_code} {response.text[:200]}"
    if path.endswith("/batch") and response.status_code == 200:
        # Each item stands or falls alone: the good one is published whatever the other.
        results = response.json()["results"]
        assert "cursor" in results[0], results
