"""Smoke test of ``make bench``: its quick mode against a real ``tocsin serve`` process.

Deselect with ``-m "not bench"``. The Node half runs only where the reference server's
dependencies are installed (``make bench-deps``); otherwise it is skipped with the reason.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from bench.servers import node_missing

from tests.helpers import require_service

ROOT = Path(__file__).resolve().parents[2]
FIGURES = {
    "connect_200_per_s",
    "kb_per_conn_200",
    "broadcast_all_200_first_ms",
    "broadcast_all_200_last_ms",
    "broadcast_tenant_100_first_ms",
    "broadcast_tenant_100_last_ms",
    "user_throughput_msg_per_s",
    "publish_latency_p50_ms",
    "publish_latency_p99_ms",
    "disconnect_200_s",
}

pytestmark = pytest.mark.bench


def run_quick(servers: str, out: Path) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--servers", servers, "--out", str(out)],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("TOCSIN_")},
        capture_output=True,
        text=True,
        timeout=55,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def assert_figures(result: dict[str, Any], kind: str) -> None:
    figures = result["median"][kind]
    assert set(figures) == FIGURES
    for name, value in figures.items():
        assert isinstance(value, int | float) and math.isfinite(value) and value > 0, (
            name,
            value,
        )
    assert result["problems"] == []


def test_quick_tocsin_half(tmp_path: Path) -> None:
    result = run_quick("tocsin", tmp_path / "tocsin.json")
    assert_figures(result, "tocsin")
    assert result["meta"]["mode"] == "quick"
    assert result["meta"]["persistence"]["tocsin"].startswith("on")


@pytest.mark.node
def test_quick_node_half(tmp_path: Path) -> None:
    missing = node_missing()
    if missing:
        require_service("Node reference server", f"{missing} (make bench-deps)")
    assert_figures(run_quick("node", tmp_path / "node.json"), "node")
