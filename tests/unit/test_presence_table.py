"""The bookkeeping of other nodes' sockets per tenant (no bus, no clock of its own)."""

from __future__ import annotations

from tocsin.realtime.presence import MAX_COUNTS_PER_MESSAGE, PresenceTable, parse_counts


def test_totals_sum_the_nodes_and_report_what_changed() -> None:
    table = PresenceTable()
    assert table.apply("n1", {"a": 2, "b": 1}, expires=10) == {"a", "b"}
    assert table.apply("n2", {"a": 3}, expires=10) == {"a"}
    assert table.remote_total("a") == 5
    assert table.remote_total("b") == 1
    # The same counts again (a refresh) change nothing.
    assert table.apply("n1", {"a": 2, "b": 1}, expires=20) == set()
    # Counts are absolute: 0 forgets the tenant on that node.
    assert table.apply("n1", {"a": 1, "b": 0}, expires=20) == {"a", "b"}
    assert table.totals() == {"a": 4}
    assert table.nodes() == {"n1": {"a": 1}, "n2": {"a": 3}}


def test_a_node_that_stops_leaves_at_once() -> None:
    table = PresenceTable()
    table.apply("n1", {"a": 2}, expires=10)
    table.apply("n2", {"a": 1, "c": 4}, expires=10)
    assert table.drop("n2") == {"a", "c"}
    assert table.totals() == {"a": 2}
    assert table.drop("unknown") == set()


def test_counts_nobody_repeats_expire() -> None:
    table = PresenceTable()
    table.apply("killed", {"a": 2, "b": 1}, expires=10)
    table.apply("alive", {"a": 1}, expires=10)
    table.apply("alive", {"a": 1}, expires=30)  # refreshed
    assert table.expire(now=9.9) == set()
    assert table.expire(now=10) == {"a", "b"}
    assert table.totals() == {"a": 1}
    assert table.nodes() == {"alive": {"a": 1}}


def test_only_what_a_node_sends_is_taken() -> None:
    assert parse_counts({"a": 1, "b": 0}) == {"a": 1, "b": 0}
    assert parse_counts({"a": -1}) is None
    assert parse_counts({"a": True}) is None
    assert parse_counts({"a": 1.5}) is None
    assert parse_counts(["a"]) is None
    assert parse_counts({f"t{i}": 1 for i in range(MAX_COUNTS_PER_MESSAGE + 1)}) is None
