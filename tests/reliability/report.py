"""Regenerate RELIABILITY.md from the results the reliability suite wrote.

    .venv/bin/python -m tests.reliability.report [--results DIR] [--output RELIABILITY.md]

Each test of ``tests/reliability/`` (and the soak script) writes one JSON file per fault
or attack to ``test-artifacts/reliability/`` (see ``results.py``); this turns them into
one table, plus the figures behind each row. Nothing here runs a test: ``make
reliability`` runs the suite, then this.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.reliability.results import ROOT, artifacts_dir

ORDER = [
    "chaos-node-sigkill",
    "chaos-redis-restart",
    "chaos-postgres-restart",
    "chaos-system-node-sigkill",
    "chaos-system-redis-restart",
    "chaos-system-postgres-restart",
    "isolation-fuzz",
    "api-fuzz-sqlite",
    "api-fuzz-postgres",
    "socket-fuzz-malformed",
    "socket-fuzz-attachment-lie",
    "socket-fuzz-event-flood",
    "limit-body-size",
    "limit-publish-rate",
    "limit-batch-over-burst",
    "limit-client-event-rate",
    "limit-connections-per-user",
    "limit-slow-consumer",
    "soak",
    "soak-long",
]


def load(folder: Path) -> list[dict[str, Any]]:
    """Every result, in the table's order (unknown keys last, alphabetically)."""
    results = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    rank = {key: i for i, key in enumerate(ORDER)}
    return sorted(results, key=lambda r: (rank.get(r["key"], len(ORDER)), r["key"]))


def _count(value: Any) -> str:
    return "—" if value is None else f"{value:,}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(results: list[dict[str, Any]]) -> list[str]:
    """The summary table."""
    lines = [
        "| Fault or attack | What was tried | Times | Lost | Duplicated | Leaked | Result "
        "| Reproduce |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for r in results:
        verdict = "pass" if r["passed"] else "**FAIL**"
        lines.append(
            f"| {_cell(r['title'])} | {_cell(r['tried'])} | {r['times']:,} | "
            f"{_count(r['lost'])} | {_count(r['duplicated'])} | {_count(r['leaked'])} | "
            f"{verdict} | `{_cell(r['command'])}` |"
        )
    return lines


def _finding(title: str) -> int:
    """The number in a title's "(finding N)", to order the Security rows (0 without)."""
    _, found, rest = title.rpartition("(finding ")
    number = rest.split(")", 1)[0] if found else ""
    return int(number) if number.isdigit() else 0


def _security(results: list[dict[str, Any]]) -> list[str]:
    rows = sorted(
        (r for r in results if r["key"].startswith("security-")),
        key=lambda r: (_finding(r["title"]), r["title"]),
    )
    if not rows:
        return []
    lines = [
        "",
        "## Security",
        "",
        "Attacks on a node, as an outsider and as a signed-in user would make them (issue 15):"
        " each is a test marked `attack`, run by `make test`; `make reliability` runs the "
        "resource attacks for 60 s each. *Outcome* is what the test measured.",
        "",
        "| Attack | What was tried | Tries | Outcome | Result | Reproduce |",
        "|---|---|---:|---|---|---|",
    ]
    for r in rows:
        verdict = "pass" if r["passed"] else "**FAIL**"
        figures = ", ".join(f"{k} {v}" for k, v in r["details"].items()) or "as asserted"
        lines.append(
            f"| {_cell(r['title'])} | {_cell(r['tried'])} | {r['times']:,} | {_cell(figures)} "
            f"| {verdict} | `{_cell(r['command'])}` |"
        )
    return lines


def _chaos(results: list[dict[str, Any]]) -> list[str]:
    rows = [r for r in results if r["key"].startswith("chaos-")]
    if not rows:
        return []
    lines = [
        "",
        "### Chaos",
        "",
        "| Phase | Clients | Published by then | Out of order | Fault lasted (s) | "
        "Caught up after (s) | Publisher answers (whole run) |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        d = r["details"]
        lines.append(
            f"| {r['title'].removeprefix('Chaos: ')} | {d['clients']} | {d['published']:,} | "
            f"{d['out_of_order']} | {d['fault_seconds']} | {d['catch_up_seconds']} | "
            f"{_cell(json.dumps(d['publisher_statuses']))} |"
        )
    return lines


def _fuzz(results: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for r in results:
        d = r["details"]
        if r["key"] == "isolation-fuzz":
            lines += [
                "",
                "### Isolation fuzz",
                "",
                f"Seed {d['seed']}: {d['created']:,} notifications created "
                f"({', '.join(f'{k} {v:,}' for k, v in d['by_audience'].items())}), "
                f"{d['refused_as_invalid']:,} hypothesis payloads refused as invalid; "
                f"{d['socket_deliveries']:,} socket deliveries to {d['sockets']} sockets and "
                f"{d['inboxes']} HTTP inboxes compared with their audience, in "
                f"{d['seconds']} s.",
            ]
        elif r["key"].startswith("api-fuzz"):
            lines += [
                "",
                f"### {r['title']}",
                "",
                f"{r['times']:,} requests in {d['seconds']} s; statuses "
                f"{', '.join(f'{k}: {v}' for k, v in d['statuses'].items())}.",
            ]
            for finding, examples in d["failures"].items():
                lines.append(f"- **{_cell(finding)}**, e.g. `{_cell(examples[0][:240])}…`")
        elif r["key"] == "socket-fuzz-malformed":
            outcomes: dict[str, str] = d["outcomes"]
            lines += [
                "",
                "### Socket fuzz",
                "",
                "Each bad packet on its own authenticated WebSocket; *refused* = the same "
                "connection still answers a good request, *closed* = the server closed it.",
                "",
                "| Packet | Outcome |",
                "|---|---|",
                *[f"| {_cell(name)} | {outcome} |" for name, outcome in outcomes.items()],
                "",
                f"Bystander: {json.dumps(d['bystander'])}; sockets still registered 10 s "
                f"after every attacker left: {d['sockets_left_registered']:g}; tracebacks in "
                f"the node's log: {d['unhandled_exceptions_logged']}.",
            ]
        elif r["key"] in ("socket-fuzz-attachment-lie", "socket-fuzz-event-flood"):
            lines += ["", f"- {r['title']}: `{_cell(json.dumps(d))}`"]
    return lines


def _limits(results: list[dict[str, Any]]) -> list[str]:
    rows = [r for r in results if r["key"].startswith("limit-")]
    if not rows:
        return []
    lines = ["", "### Limits", ""]
    for r in rows:
        lines.append(f"- {r['title']}: `{_cell(json.dumps(r['details']))}`")
    return lines


def _soak(results: list[dict[str, Any]]) -> list[str]:
    soak = next((r for r in results if r["key"] == "soak"), None)
    if soak is None:
        return []
    d = soak["details"]
    samples = d["samples"]
    every = max(1, len(samples) // 20)
    lines = [
        "",
        "### Soak",
        "",
        f"{d['connections']:,} sockets (ulimit -n {d['ulimit_nofile'][0]}), connected in "
        f"{d['connect_seconds']} s; {d['reconnections']:,} reconnections with `since`; "
        f"{d.get('publish_timeouts', 0)} publishes unanswered within 30 s. "
        f"RSS {d['rss_start_mib']} → {d['rss_end_mib']} MiB, least-squares slope "
        f"{d['rss_slope_mib_per_min']:+.2f} MiB/min (second half "
        f"{d['rss_slope_second_half_mib_per_min']:+.2f}: {d.get('rss_trend', '?')}); "
        f"`/healthz` round trip p50 "
        f"{d['healthz_ms_p50']} ms, p99 {d['healthz_ms_p99']} ms, max {d['healthz_ms_max']} ms.",
        "",
        "| t (s) | RSS (MiB) | CPU % | /healthz (ms) | sockets | published |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for s in samples[::every]:
        lines.append(
            f"| {s['t']} | {s['rss_mib']} | {s['cpu_percent']:.0f} | {s['healthz_ms']} | "
            f"{s['sockets']:,} | {s['published']:,} |"
        )
    for other in (r for r in results if r["key"].startswith("soak-")):
        o = other["details"]
        lines += [
            "",
            f"{other['title']}: RSS {o['rss_start_mib']} → {o['rss_end_mib']} MiB, slope "
            f"{o['rss_slope_mib_per_min']:+.2f} MiB/min (second half "
            f"{o['rss_slope_second_half_mib_per_min']:+.2f}: {o.get('rss_trend', '?')}); "
            f"`/healthz` p50 {o['healthz_ms_p50']} ms, p99 {o['healthz_ms_p99']} ms, max "
            f"{o['healthz_ms_max']} ms; {o['reconnections']:,} reconnections; "
            f"{o.get('publish_timeouts', 0)} publishes unanswered within 30 s.",
        ]
    return lines


def render(results: list[dict[str, Any]]) -> str:
    """The whole of RELIABILITY.md."""
    failing = [r for r in results if not r["passed"]]
    newest = max((r["recorded_at"] for r in results), default="")
    lines = [
        "# Reliability",
        "",
        "<!-- Generated by tests/reliability/report.py from test-artifacts/reliability/*.json:"
        " do not edit by hand. -->",
        "",
        "What Tocsin was put through, and what it lost, duplicated or leaked. Every row is a "
        "test of `tests/reliability/` (or the soak script) against real processes: `tocsin "
        "serve`, PostgreSQL, Redis, python-socketio clients and raw WebSockets; no mocks.",
        "",
        "- `make test` runs the default sizes; `make reliability` runs the suite with "
        "`TOCSIN_SLOW=1` (the machine's own PostgreSQL restarted too) and rewrites this file;",
        "- `make soak DURATION=60` runs the soak; `.venv/bin/python -m tests.reliability.report`"
        " rewrites this file from the results already there.",
        "",
        f"Results of {newest[:19].replace('T', ' ')} UTC, on {os.cpu_count()} cores, Python "
        f"{platform.python_version()}. *Lost*: published for a client and never received; "
        "*duplicated*: received twice; *leaked*: received by someone outside its audience.",
        "",
        *table([r for r in results if not r["key"].startswith("security-")]),
    ]
    if failing:
        lines += [
            "",
            f"**{len(failing)} of {len(results)} checks fail**: "
            + "; ".join(r["title"] for r in failing)
            + ". Each row's command reproduces it.",
        ]
    lines += [
        *_security(results),
        "",
        "## Figures",
        *_chaos(results),
        *_fuzz(results),
        *_limits(results),
        *_soak(results),
        "",
        f"_Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC._",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Write RELIABILITY.md; exit 1 when there is no result at all."""
    parser = argparse.ArgumentParser(description="Regenerate RELIABILITY.md")
    parser.add_argument("--results", type=Path, default=artifacts_dir())
    parser.add_argument("--output", type=Path, default=ROOT / "RELIABILITY.md")
    args = parser.parse_args(argv)
    results = load(args.results)
    if not results:
        print(f"no results in {args.results}: run `make reliability` first", file=sys.stderr)
        return 1
    args.output.write_text(render(results))
    print(f"wrote {args.output} ({len(results)} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
