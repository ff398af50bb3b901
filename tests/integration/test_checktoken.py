"""`tocsin checktoken`: who a token is, or exactly why it is refused."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.forge import AUTH_SECRET, authjs_token, claims
from tests.helpers import JWT_SECRET, token


def checktoken(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("TOCSIN_", "AUTH_", "NEXTAUTH"))
    }
    return subprocess.run(
        [sys.executable, "-m", "tocsin", "checktoken", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_accepted_session_cookie_names_user_secret_and_expiry() -> None:
    value = authjs_token(claims(role="lawyer"), salt="__Secure-authjs.session-token")
    result = checktoken(
        f"__Secure-authjs.session-token={value}",
        AUTH_SECRET="old-but-long-enough-secret-xx",
        AUTH_SECRET_1=AUTH_SECRET,
    )
    assert result.returncode == 0, result.stdout
    assert "accepted: user alice, tenant firm-a, role lawyer" in result.stdout
    assert "salt '__Secure-authjs.session-token') via AUTH_SECRET_1" in result.stdout
    assert "expires in 59m" in result.stdout


def test_refusals_say_why() -> None:
    wrong_salt = authjs_token(claims())  # minted for authjs.session-token
    result = checktoken(
        "--cookie-name", "__Secure-authjs.session-token", wrong_salt, AUTH_SECRET=AUTH_SECRET
    )
    assert result.returncode == 1
    assert "refused (invalid_token)" in result.stdout
    assert "matches no key derived from AUTH_SECRET" in result.stdout
    assert "salt '__Secure-authjs.session-token'" in result.stdout

    stale = token("alice", "firm-a", exp=int(time.time()) - 7200)
    expired = checktoken(stale, TOCSIN_JWT_SECRET=JWT_SECRET)
    assert expired.returncode == 1
    assert "refused (expired): expired 2h" in expired.stdout

    nothing = checktoken(authjs_token(claims()))
    assert "no AUTH_SECRET or NEXTAUTH_SECRET is configured" in nothing.stdout
