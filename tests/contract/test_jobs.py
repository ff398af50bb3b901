"""The durable job queue (DESIGN §8, exactly once), on every store backend, and the node's
:class:`JobRunner` over it: unique keys, one holder at a time, leases, retries with backoff.

Time is the tests' to choose: ``claim_jobs`` and ``JobRunner.run_due`` take ``now``, so a
lease or a backoff ends by asking with a later ``now``, never by waiting.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tocsin.jobrunner import CLAIM_BATCH, MAX_ATTEMPTS, RETRY_MAX, JobRunner, retry_delay
from tocsin.store.base import JobRecord, NewJob
from tocsin.store.sql import SqlStore

LEASE = 60.0


def moment() -> datetime:
    """Now, to the millisecond (what every backend stores exactly)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def job(key: str, run_at: datetime, kind: str = "test", **payload: Any) -> NewJob:
    return NewJob(
        key=key,
        kind=kind,
        run_at=run_at,
        payload={"n": key, **payload},
        tenant_id="tenant-a",
        user_id="alice",
    )


async def opened(url: str) -> SqlStore:
    store = SqlStore(url)
    await store.open(migrate=True)
    return store


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[SqlStore]:
    s = await opened(store_url)
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def other(store: SqlStore, store_url: str) -> AsyncIterator[SqlStore]:
    """A second node's store over the same database (opened after ``store`` migrated it)."""
    s = await opened(store_url)
    try:
        yield s
    finally:
        await s.close()


async def by_key(store: SqlStore) -> dict[str, JobRecord]:
    return {j.key: j for j in await store.list_jobs(limit=1000)}


# -- the queue -----------------------------------------------------------------------------


async def test_enqueue_is_unique_by_key(store: SqlStore) -> None:
    now = moment()
    assert await store.enqueue_jobs([job("a", now), job("b", now)]) == 2
    # The same key again, even with another time and payload, changes nothing.
    later = job("a", now + timedelta(hours=1), other="payload")
    assert await store.enqueue_jobs([later, job("c", now)]) == 1
    assert await store.enqueue_jobs([]) == 0
    jobs = await by_key(store)
    assert sorted(jobs) == ["a", "b", "c"]
    a = jobs["a"]
    assert (a.run_at, a.payload, a.status, a.attempts) == (now, {"n": "a"}, "pending", 0)
    assert (a.kind, a.tenant_id, a.user_id, a.last_error) == ("test", "tenant-a", "alice", None)
    # A finished job's key stays taken: a wake-up done once is never stored again.
    [claimed] = await store.claim_jobs("w", now, LEASE, 1)
    assert await store.finish_job(claimed.key, "w", "done", None)
    assert await store.enqueue_jobs([job(claimed.key, now)]) == 0
    assert (await by_key(store))[claimed.key].status == "done"


async def test_a_key_twice_in_one_batch_is_one_job(store: SqlStore) -> None:
    now = moment()
    added = await store.enqueue_jobs([job("a", now), job("a", now + timedelta(seconds=1))])
    assert [(j.key, j.run_at) for j in (await by_key(store)).values()] == [("a", now)]
    assert added == 1  # "returns how many were new"


async def test_two_nodes_enqueueing_one_key_store_one_job(store: SqlStore, other: SqlStore) -> None:
    now = moment()
    for round_ in range(10):
        key = f"same-{round_}"
        added = await asyncio.gather(
            store.enqueue_jobs([job(key, now)]), other.enqueue_jobs([job(key, now)])
        )
        assert sorted(await by_key(store)) == sorted(f"same-{i}" for i in range(round_ + 1))
        assert sum(added) == 1, f"both nodes counted {key} as new: {added}"


async def test_concurrent_claims_never_share_a_job(store: SqlStore, other: SqlStore) -> None:
    now = moment()
    total = 120
    await store.enqueue_jobs([job(f"j{i:03}", now - timedelta(seconds=i)) for i in range(total)])
    got: dict[str, list[str]] = {"one": [], "two": []}
    while True:
        one, two = await asyncio.gather(
            store.claim_jobs("one", now, LEASE, 7), other.claim_jobs("two", now, LEASE, 7)
        )
        got["one"] += [j.key for j in one]
        got["two"] += [j.key for j in two]
        if not one and not two:
            break
    claimed = got["one"] + got["two"]
    assert [k for k, n in Counter(claimed).items() if n > 1] == []
    assert sorted(claimed) == sorted(f"j{i:03}" for i in range(total))
    assert got["one"] and got["two"], "one worker took everything: the race was not run"
    jobs = await by_key(store)
    assert {j.attempts for j in jobs.values()} == {1}


async def test_claims_are_due_pending_soonest_first(store: SqlStore) -> None:
    now = moment()
    await store.enqueue_jobs(
        [
            job("later", now + timedelta(seconds=10)),
            job("second", now - timedelta(seconds=1)),
            job("first", now - timedelta(seconds=5)),
            job("now", now),
        ]
    )
    claimed = await store.claim_jobs("w", now, LEASE, 10)
    assert [j.key for j in claimed] == ["first", "second", "now"]
    assert [j.attempts for j in claimed] == [1, 1, 1]
    assert all(j.status == "pending" for j in claimed)
    assert await store.claim_jobs("w", now + timedelta(seconds=9), LEASE, 10) == []
    assert [j.key for j in await store.claim_jobs("w", now + timedelta(seconds=10), LEASE, 10)] == [
        "later"
    ]


async def test_a_held_job_waits_for_its_lease_then_goes_to_another_worker(
    store: SqlStore, other: SqlStore
) -> None:
    now = moment()
    await store.enqueue_jobs([job("k", now)])
    [first] = await store.claim_jobs("dead", now, 30, 10)
    assert first.attempts == 1
    # Held: nobody else gets it, up to the end of the lease.
    assert await other.claim_jobs("alive", now, 30, 10) == []
    assert await other.claim_jobs("alive", now + timedelta(seconds=30), 30, 10) == []
    # The holder died: at the end of its lease another worker gets it, as a new attempt.
    [second] = await other.claim_jobs("alive", now + timedelta(seconds=30.001), 30, 10)
    assert (second.key, second.attempts, second.payload) == ("k", 2, {"n": "k"})
    # The first holder comes back too late: it can neither renew, finish nor retry it.
    assert not await store.renew_job("k", "dead", now + timedelta(seconds=31), 30)
    assert not await store.finish_job("k", "dead", "done", None)
    assert not await store.retry_job("k", "dead", now, "late")
    assert (await by_key(store))["k"].status == "pending"
    assert await other.finish_job("k", "alive", "done", None)
    done = (await by_key(store))["k"]
    assert (done.status, done.attempts, done.last_error) == ("done", 2, None)
    # Done is final: neither a claim nor a second finish finds it.
    assert await other.claim_jobs("alive", now + timedelta(days=1), 30, 10) == []
    assert not await other.finish_job("k", "alive", "failed", "again")


async def test_finish_records_failed_with_its_error(store: SqlStore) -> None:
    now = moment()
    await store.enqueue_jobs([job("k", now)])
    assert not await store.finish_job("k", "w", "done", None)  # never claimed
    await store.claim_jobs("w", now, LEASE, 1)
    assert await store.finish_job("k", "w", "failed", "ValueError: bad")
    failed = (await by_key(store))["k"]
    assert (failed.status, failed.last_error) == ("failed", "ValueError: bad")
    assert await store.list_jobs(status="failed") == [failed]
    assert await store.list_jobs(status="pending") == []


async def test_retry_moves_run_at_and_releases_the_job(store: SqlStore, other: SqlStore) -> None:
    now = moment()
    await store.enqueue_jobs([job("k", now)])
    assert not await store.retry_job("k", "w", now, "not held")
    await store.claim_jobs("w", now, LEASE, 1)
    again = now + timedelta(seconds=100)
    assert not await store.retry_job("k", "someone-else", again, "not theirs")
    assert await store.retry_job("k", "w", again, "E" * 3000)
    retried = (await by_key(store))["k"]
    assert (retried.run_at, retried.status, retried.attempts) == (again, "pending", 1)
    assert retried.last_error == "E" * 2000
    # Released (no lease left to wait for), but not before its new time, by anyone.
    assert await store.claim_jobs("w", now + timedelta(seconds=99), LEASE, 1) == []
    [taken] = await other.claim_jobs("v", again, LEASE, 1)
    assert (taken.key, taken.attempts, taken.last_error) == ("k", 2, "E" * 2000)


async def test_next_job_at(store: SqlStore) -> None:
    now = moment()
    assert await store.next_job_at() is None
    await store.enqueue_jobs([job("ten", now + timedelta(seconds=10)), job("five", now)])
    assert await store.next_job_at() == now
    # Held: claimable again at its lease's end, after the other one's time.
    await store.claim_jobs("w", now, 60, 1)
    assert await store.next_job_at() == now + timedelta(seconds=10)
    await store.claim_jobs("w", now + timedelta(seconds=10), 60, 1)
    assert await store.next_job_at() == now + timedelta(seconds=60)
    # A retry sooner than its lease's end: its new time.
    await store.retry_job("ten", "w", now + timedelta(seconds=20), "x")
    assert await store.next_job_at() == now + timedelta(seconds=20)
    # Finished jobs are not waited for.
    assert await store.finish_job("five", "w", "done", None)
    assert await store.next_job_at() == now + timedelta(seconds=20)
    [ten] = await store.claim_jobs("w", now + timedelta(seconds=20), 60, 1)
    assert await store.finish_job(ten.key, "w", "failed", "x")
    assert await store.next_job_at() is None


async def test_list_jobs_filters(store: SqlStore) -> None:
    now = moment()
    await store.enqueue_jobs(
        [job("b", now, kind="push"), job("a", now, kind="snooze"), job("c", now, kind="push")]
    )
    assert [j.key for j in await store.list_jobs()] == ["a", "b", "c"]
    assert [j.key for j in await store.list_jobs(kind="push")] == ["b", "c"]
    assert [j.key for j in await store.list_jobs(kind="push", limit=1)] == ["b"]
    assert await store.list_jobs(status="done") == []


# -- the runner ----------------------------------------------------------------------------


class Flaky:
    """A handler that fails its first ``failures`` calls per key (all of them when None)."""

    def __init__(self, failures: int | None, *, always_fail: frozenset[str] = frozenset()) -> None:
        self.failures = failures
        self.always_fail = always_fail
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, record: JobRecord) -> None:
        self.calls.append((record.key, record.attempts))
        tries = sum(1 for key, _ in self.calls if key == record.key)
        if record.key in self.always_fail or self.failures is None or tries <= self.failures:
            raise RuntimeError(f"boom {tries}")


def runner(store: SqlStore, handler: Flaky, kind: str = "test") -> JobRunner:
    return JobRunner(store, {kind: handler}, poll_interval=1.0, lease=LEASE)


async def test_a_failing_handler_is_retried_with_backoff_then_done(store: SqlStore) -> None:
    handler = Flaky(2)
    jobs = runner(store, handler)
    await store.enqueue_jobs([job("k", moment())])
    due: datetime | None = None  # the first run: whenever it is asked
    for attempt in (1, 2):
        before = datetime.now(UTC)
        assert await jobs.run_due(now=due) == 1
        after = datetime.now(UTC)
        record = (await by_key(store))["k"]
        assert (record.status, record.attempts) == ("pending", attempt)
        assert record.last_error == f"RuntimeError: boom {attempt}"
        delay = timedelta(seconds=retry_delay(attempt))
        assert before + delay <= record.run_at <= after + delay
        # Backing off: not due now, nor just before its new time.
        assert await jobs.run_due() == 0
        assert await jobs.run_due(now=record.run_at - timedelta(milliseconds=10)) == 0
        due = record.run_at
    assert (retry_delay(1), retry_delay(2)) == (2, 4)

    assert await jobs.run_due(now=due) == 1
    done = (await by_key(store))["k"]
    assert (done.status, done.attempts, done.last_error) == ("done", 3, None)
    assert handler.calls == [("k", 1), ("k", 2), ("k", 3)]
    assert await jobs.run_due(now=datetime.now(UTC) + timedelta(days=1)) == 0


async def test_one_failing_job_does_not_stop_the_others_of_its_batch(store: SqlStore) -> None:
    now = moment()
    handler = Flaky(0, always_fail=frozenset({"bad"}))
    jobs = runner(store, handler)
    # The failing one first: the others come after it in the same claim.
    await store.enqueue_jobs(
        [job("bad", now - timedelta(seconds=1))] + [job(f"good{i}", now) for i in range(5)]
    )
    assert await jobs.run_due(now=now) == 6
    assert handler.calls[0] == ("bad", 1)
    states = {k: (j.status, j.attempts) for k, j in (await by_key(store)).items()}
    assert states == {"bad": ("pending", 1), **{f"good{i}": ("done", 1) for i in range(5)}}


async def test_a_job_that_keeps_failing_is_given_up_after_max_attempts(store: SqlStore) -> None:
    handler = Flaky(None)
    jobs = runner(store, handler)
    await store.enqueue_jobs([job("k", moment())])
    later = datetime.now(UTC)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        # Past any backoff (at most RETRY_MAX) of the attempt before.
        later += timedelta(seconds=RETRY_MAX + 1)
        assert await jobs.run_due(now=later) == 1, f"attempt {attempt}"
    failed = (await by_key(store))["k"]
    assert (failed.status, failed.attempts) == ("failed", MAX_ATTEMPTS)
    assert failed.last_error == f"RuntimeError: boom {MAX_ATTEMPTS}"
    assert [a for _, a in handler.calls] == list(range(1, MAX_ATTEMPTS + 1))
    assert await jobs.run_due(now=later + timedelta(days=1)) == 0
    assert await store.next_job_at() is None


async def test_a_kind_without_handler_is_kept_for_a_node_that_knows_it(
    store: SqlStore, other: SqlStore
) -> None:
    now = moment()
    await store.enqueue_jobs([job("newer", now, kind="from-a-newer-node")])
    old = runner(store, Flaky(0))
    before = datetime.now(UTC)
    assert await old.run_due(now=now) == 1
    kept = (await by_key(store))["newer"]
    assert kept.status == "pending"
    assert kept.last_error == "no handler for 'from-a-newer-node'"
    assert kept.run_at >= before + timedelta(seconds=RETRY_MAX)
    knows = Flaky(0)
    new = JobRunner(other, {"from-a-newer-node": knows}, poll_interval=1.0, lease=LEASE)
    assert await new.run_due(now=kept.run_at) == 1
    assert knows.calls == [("newer", 2)]
    assert (await by_key(store))["newer"].status == "done"


async def test_two_runners_run_each_job_once(store: SqlStore, other: SqlStore) -> None:
    now = moment()
    total = CLAIM_BATCH * 2 + 7  # more than one claim each
    handler = Flaky(0)
    one, two = runner(store, handler), runner(other, handler)
    await store.enqueue_jobs([job(f"j{i:03}", now) for i in range(total)])
    ran = await asyncio.gather(one.run_due(now=now), two.run_due(now=now))
    assert sum(ran) == total
    assert [k for k, n in Counter(k for k, _ in handler.calls).items() if n > 1] == []
    assert len(handler.calls) == total
    assert {(j.status, j.attempts) for j in (await by_key(store)).values()} == {("done", 1)}


async def test_a_renewed_lease_keeps_a_slow_batchs_tail(store: SqlStore, other: SqlStore) -> None:
    now = moment()
    await store.enqueue_jobs([job("a", now), job("b", now)])
    claimed = await store.claim_jobs("slow", now, 10, 10)
    assert [j.key for j in claimed] == ["a", "b"]
    # "b" starts 9 s later: its lease is renewed from then, so at 12 s nobody takes it.
    assert await store.renew_job("b", "slow", now + timedelta(seconds=9), 10)
    assert [j.key for j in await other.claim_jobs("fast", now + timedelta(seconds=12), 10, 10)] == [
        "a"
    ]
    assert not await store.renew_job("a", "slow", now + timedelta(seconds=12), 10)
