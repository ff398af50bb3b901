"""Session tokens minted by the real ``next-auth`` v4 and ``@auth/core`` packages (``mint.mjs``).

``mint("next-auth", secret, claims)`` is exactly what a NextAuth v4 app puts in its
``next-auth.session-token`` cookie; ``mint("authjs", secret, claims, salt=cookie_name)``
what an Auth.js v5 app puts in ``authjs.session-token`` (the salt is the cookie's name, so
``__Secure-authjs.session-token`` needs its own token). ``chunk_cookie`` splits a long
value into ``name.0``, ``name.1``, … the way both libraries do.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any, Literal

from tests.helpers import require_service

COMPAT_DIR = Path(__file__).resolve().parent
MINT_SCRIPT = COMPAT_DIR / "mint.mjs"
NODE_MODULES = COMPAT_DIR / "node_modules"
MINT_TIMEOUT = 30.0

# The cookie names each library uses for its session (the ``__Secure-`` ones over HTTPS).
NEXTAUTH_COOKIE = "next-auth.session-token"
NEXTAUTH_SECURE_COOKIE = "__Secure-next-auth.session-token"
AUTHJS_COOKIE = "authjs.session-token"
AUTHJS_SECURE_COOKIE = "__Secure-authjs.session-token"

# Chunk sizes, from each library's SessionStore: ALLOWED_COOKIE_SIZE (4096) minus its
# ESTIMATED_EMPTY_COOKIE_SIZE (163 in next-auth v4's core/lib/cookie.js, 160 in
# @auth/core's lib/utils/cookie.js).
NEXTAUTH_CHUNK_SIZE = 4096 - 163
AUTHJS_CHUNK_SIZE = 4096 - 160

Lib = Literal["next-auth", "authjs"]


def require_minting() -> str:
    """The ``node`` executable; skips (or fails) the test when the packages are missing."""
    name = "npm next-auth/@auth/core"
    node = shutil.which("node")
    if node is None:
        require_service(name, "`node` is not on PATH")
        raise AssertionError("unreachable")
    for package_file in ("next-auth/jwt/index.js", "@auth/core/jwt.js"):
        if not (NODE_MODULES / package_file).is_file():
            require_service(
                name,
                f"{NODE_MODULES / package_file} is missing: run `npm ci --prefix tests/compat`",
            )
    return node


def mint(
    lib: Lib,
    secret: str | list[str],
    claims: dict[str, Any],
    *,
    salt: str | None = None,
    max_age: int | None = None,
) -> str:
    """A session token from the real package's ``encode`` (``salt`` required for ``authjs``)."""
    node = require_minting()
    request: dict[str, Any] = {"lib": lib, "secret": secret, "token": claims}
    if salt is not None:
        request["salt"] = salt
    if max_age is not None:
        request["maxAge"] = max_age
    try:
        done = subprocess.run(
            [node, str(MINT_SCRIPT), json.dumps(request)],
            cwd=COMPAT_DIR,
            capture_output=True,
            text=True,
            timeout=MINT_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"mint.mjs timed out after {MINT_TIMEOUT}s") from exc
    if done.returncode != 0:
        raise AssertionError(f"mint.mjs failed ({done.returncode}): {done.stderr.strip()}")
    minted = done.stdout.strip()
    if minted.count(".") != 4:
        raise AssertionError(f"mint.mjs printed no compact JWE: {done.stdout!r}")
    return minted


def chunk_cookie(name: str, value: str, size: int = NEXTAUTH_CHUNK_SIZE) -> str:
    """A ``Cookie`` header value holding ``value`` as the library would set it.

    One cookie ``name=value`` when it fits in ``size`` characters, else ``name.0``,
    ``name.1``, … of ``size`` characters each (pass ``AUTHJS_CHUNK_SIZE`` for Auth.js).
    """
    count = -(-len(value) // size)
    if count <= 1:
        return f"{name}={value}"
    return "; ".join(f"{name}.{i}={value[i * size : (i + 1) * size]}" for i in range(count))
