"""``/docs`` works offline: Swagger UI and its start-up script come from the server itself."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx

from tests.helpers import ServerThread


class _Resources(HTMLParser):
    """The scripts and stylesheets a page loads, and whether it has inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0
        self._in_script_without_src = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            if found.get("src"):
                self.urls.append(found["src"] or "")
            else:
                self._in_script_without_src = True
        elif tag == "link" and found.get("href"):
            self.urls.append(found["href"] or "")

    def handle_endtag(self, tag: str) -> None:
        self._in_script_without_src = False

    def handle_data(self, data: str) -> None:
        if self._in_script_without_src and data.strip():
            self.inline_scripts += 1


async def test_docs_loads_only_its_own_files(server: ServerThread, http: httpx.AsyncClient) -> None:
    page = await http.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    resources = _Resources()
    resources.feed(page.text)
    assert resources.inline_scripts == 0  # the policy forbids them
    page_url = f"{server.url}/docs"
    loaded = [urljoin(page_url, url) for url in resources.urls if not url.startswith("data:")]
    assert len(loaded) == 3, resources.urls  # Swagger UI's script and style, the start-up
    kinds = set()
    for url in loaded:
        assert urlsplit(url).netloc == urlsplit(server.url).netloc, url
        response = await http.get(url)
        assert response.status_code == 200, url
        kinds.add(response.headers["content-type"].split(";")[0])
        assert len(response.content) > 0
    assert kinds == {"text/javascript", "text/css"}

    start = await http.get(f"{server.url}/docs/start.js")
    assert '"url": "openapi.json"' in start.text and "SwaggerUIBundle(" in start.text
    schema = await http.get(urljoin(page_url, "openapi.json"))
    assert schema.status_code == 200 and schema.json()["info"]["title"] == "Tocsin"
    assert "/api/v1/notifications" in schema.json()["paths"]
    # The files are served, not listed; FastAPI's CDN-based /redoc is gone.
    assert (await http.get("/docs/assets/")).status_code == 404
    assert (await http.get("/redoc")).status_code == 404
