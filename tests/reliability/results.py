"""Results the reliability tests leave behind, for ``report.py`` to turn into RELIABILITY.md.

Each check writes one JSON file under ``test-artifacts/reliability/`` (git-ignored),
*before* it asserts, so that a failing run is reported with its real counts.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def artifacts_dir() -> Path:
    """Where results go: ``TOCSIN_RELIABILITY_DIR``, else ``test-artifacts/reliability``."""
    configured = os.environ.get("TOCSIN_RELIABILITY_DIR")
    return Path(configured) if configured else ROOT / "test-artifacts" / "reliability"


@dataclass
class Result:
    """One row of the reliability table.

    ``lost``, ``duplicated`` and ``leaked`` are counts of notifications (None where the
    check is not about delivery); ``passed`` is whether the check's own assertions held.
    """

    key: str
    title: str
    tried: str
    times: int
    command: str
    lost: int | None = None
    duplicated: int | None = None
    leaked: int | None = None
    passed: bool = True
    details: dict[str, Any] = field(default_factory=dict)
    recorded_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def write(self) -> Path:
        """Write ``<key>.json`` and return its path."""
        folder = artifacts_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.key}.json"
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")
        return path


def pytest_command(node_id: str, env: str = "") -> str:
    """The command that reproduces one test, from the repository root."""
    prefix = f"{env} " if env else ""
    return f"{prefix}.venv/bin/pytest '{node_id}'"
