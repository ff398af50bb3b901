"""Hatch build hook: build the browser client (clients/js) into src/tocsin/web.

Runs for every wheel (regular or editable) and sdist, so that ``pip install .`` gives the
page at ``/`` to someone who never ran ``make``. It needs Node.js 18+ and npm; the built
files are git-ignored and shipped as artifacts. An sdist carries them already built, so a
wheel built from it needs no npm. ``TOCSIN_SKIP_WEB_BUILD=1`` builds without the page.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class WebBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    """Run ``npm ci`` (when needed) and ``npm run build`` in clients/js."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Build the page before hatchling collects the files."""
        root = Path(self.root)
        client = root / "clients" / "js"
        built = root / "src" / "tocsin" / "web" / "index.html"
        if os.environ.get("TOCSIN_SKIP_WEB_BUILD") == "1":
            self.app.display_warning("TOCSIN_SKIP_WEB_BUILD=1: the page at / is not built")
            return
        npm = shutil.which("npm")
        if not (client / "package.json").is_file() or npm is None:
            if built.is_file():
                return  # an sdist (or a checkout) with the page already built
            raise RuntimeError(
                "the browser client must be built, and npm was not found: install Node.js 18+ "
                "with npm, or set TOCSIN_SKIP_WEB_BUILD=1 to build without the page at /"
            )
        installed = client / "node_modules" / ".package-lock.json"
        lock = client / "package-lock.json"
        if not installed.is_file() or installed.stat().st_mtime < lock.stat().st_mtime:
            self._run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], client)
        self._run([npm, "run", "--silent", "build"], client)

    def _run(self, command: list[str], cwd: Path) -> None:
        self.app.display_info(f"tocsin web: {' '.join(command[1:])} in {cwd}")
        subprocess.run(command, cwd=cwd, check=True)
