"""The API's documentation at ``/docs``: Swagger UI, served by Tocsin itself.

FastAPI's own page loads Swagger UI from a CDN and starts it with an inline script: it stays
blank offline (or behind a proxy that blocks the CDN), and it needs a policy that allows
inline scripts. Here Swagger UI's files come from the ``fastapi-offline`` package (its
``static/`` folder; pinned in pyproject.toml), the start-up script is a file as well, and the
page gets the policy of the page at ``/``: scripts, styles and connections from the server only.

Every URL in the page is relative (``docs/assets/…``, ``openapi.json``), so it also works
under a proxy's path prefix.
"""

from __future__ import annotations

import json
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import swagger_ui_default_parameters
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from tocsin.api.security_headers import page_headers

DOCS_PATH = "/docs"
# swagger-ui-bundle.js, swagger-ui.css (Swagger UI 5) and a few files /docs does not use.
SWAGGER_UI_DIR = Path(fastapi_offline.__file__).parent / "static"

# The bell of the page at /, inline (an image from data: is allowed by the policy).
_ICON = (
    "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 24 24' "
    "fill='none' stroke='%232563eb' stroke-width='2'%3E%3Cpath d='M6 8a6 6 0 0 1 12 0c0 7 "
    "3 9 3 9H3s3-2 3-9'/%3E%3Cpath d='M10.3 21a1.94 1.94 0 0 0 3.4 0'/%3E%3C/svg%3E"
)

_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tocsin API</title>
<link rel="icon" href="{_ICON}">
<link rel="stylesheet" href="docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script src="docs/start.js"></script>
</body>
</html>
"""


def start_script(openapi_url: str) -> str:
    """The script that starts Swagger UI on ``openapi_url`` (relative to the page), with
    FastAPI's default parameters and no call to the public validator."""
    parameters = {
        **swagger_ui_default_parameters,
        "url": openapi_url.lstrip("/"),
        "validatorUrl": None,
    }
    return (
        f"const parameters = {json.dumps(parameters)};\n"
        "parameters.presets = "
        "[SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset];\n"
        "window.ui = SwaggerUIBundle(parameters);\n"
    )


def mount_docs(api: FastAPI) -> None:
    """Serve Swagger UI at ``/docs`` for ``api`` (created with ``docs_url=None``): the page,
    its start-up script and Swagger UI's files, all from this server.

    Raises:
        RuntimeError: the Swagger UI files are missing from the installed package.
    """
    if not (SWAGGER_UI_DIR / "swagger-ui-bundle.js").is_file():
        raise RuntimeError(f"Swagger UI files not found in {SWAGGER_UI_DIR}: reinstall tocsin")
    script = start_script(api.openapi_url or "/openapi.json")

    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(_PAGE, headers=page_headers(request.headers.get("host")))

    async def start() -> Response:
        return Response(script, media_type="text/javascript")

    api.add_api_route(DOCS_PATH, page, methods=["GET"], include_in_schema=False)
    api.add_api_route(f"{DOCS_PATH}/start.js", start, methods=["GET"], include_in_schema=False)
    api.mount(f"{DOCS_PATH}/assets", StaticFiles(directory=SWAGGER_UI_DIR), name="docs-assets")
