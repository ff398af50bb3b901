"""Batch jobs that work through items one at a time: one item's failure never stops the others.

Every scheduled job of a node (the deadline check, IMAP ingestion, and those to come) runs
each item through :meth:`BatchJob.attempt` (or :meth:`BatchJob.run_each`):

- an item that raises is counted in ``tocsin_job_item_failures_total{job}`` and the job goes
  on with the next item;
- it is logged at WARNING the first time it fails in this process, then at DEBUG for as long
  as it keeps failing (a deadline that cannot be published would otherwise log at every
  check, forever); once it succeeds it is forgotten, so a new failure is logged again;
- a failure that is not the item's fault (:func:`dependency_down`: the database or a peer is
  unreachable) stops the run instead: every item would fail the same way, and the caller
  retries the whole run later.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from tocsin import metrics
from tocsin.errors import TocsinError

T = TypeVar("T")
R = TypeVar("R")

# Failing items remembered per job; past it the oldest is forgotten (and would be logged
# again), so a flood of distinct bad items cannot grow the process.
REMEMBERED_FAILURES = 1000


@dataclass(frozen=True, slots=True)
class ItemFailed:
    """The outcome of an item that raised: its key and the exception."""

    key: str
    error: Exception


def dependency_down(exc: BaseException) -> bool:
    """Whether ``exc`` says something the whole job needs is unreachable, not that the item is bad.

    Connection errors and timeouts (``OSError``), and database errors that mean a lost or
    refused connection or a locked database, rather than a statement that failed.
    """
    if isinstance(exc, OSError):
        return True
    if isinstance(exc, DBAPIError):
        return bool(exc.connection_invalidated) or isinstance(
            exc, OperationalError | InterfaceError
        )
    return False


class BatchJob:
    """One named job of this process: runs items in isolation, remembers which are failing."""

    def __init__(
        self,
        name: str,
        log: logging.Logger,
        *,
        aborts: Callable[[BaseException], bool] = dependency_down,
        remembered: int = REMEMBERED_FAILURES,
    ) -> None:
        self.name = name
        self.log = log
        self.aborts = aborts
        self._remembered = remembered
        self._failing: OrderedDict[str, None] = OrderedDict()
        self._counter = metrics.JOB_ITEM_FAILURES.labels(name)

    def failing(self) -> list[str]:
        """Keys of the items whose last attempt failed, oldest first."""
        return list(self._failing)

    async def attempt(self, key: str, step: Callable[[], Awaitable[R]]) -> R | ItemFailed:
        """Run ``step`` for the item ``key``; its failure is counted, logged once and returned.

        Raises:
            Exception: whatever ``step`` raised, when :attr:`aborts` says the run must stop.
            asyncio.CancelledError: the job is being stopped.
        """
        try:
            result = await step()
        except Exception as exc:
            if self.aborts(exc):
                raise
            self._failed(key, exc)
            return ItemFailed(key, exc)
        if self._failing:
            self._succeeded(key)
        return result

    async def run_each(
        self,
        items: Iterable[T],
        key: Callable[[T], str],
        step: Callable[[T], Awaitable[R]],
    ) -> list[R | ItemFailed]:
        """:meth:`attempt` each item in turn; the outcomes in the items' order.

        Raises:
            Exception: an item's failure that :attr:`aborts` the run (the items after it
                are not attempted).
        """
        outcomes: list[R | ItemFailed] = []
        for item in items:
            outcomes.append(await self.attempt(key(item), partial(step, item)))
        return outcomes

    def _failed(self, key: str, exc: Exception) -> None:
        self._counter.inc()
        if key in self._failing:
            self._failing.move_to_end(key)
            self.log.debug("%s: %r failed again: %s", self.name, key, exc)
            return
        self._failing[key] = None
        while len(self._failing) > self._remembered:
            self._failing.popitem(last=False)
        # A refusal explains itself; anything else is a bug worth its traceback, once.
        self.log.warning(
            "%s: %r failed, skipped (the others go on; logged once until it succeeds): %s: %s",
            self.name,
            key,
            type(exc).__name__,
            exc,
            exc_info=None if isinstance(exc, TocsinError) else exc,
        )

    def _succeeded(self, key: str) -> None:
        if key in self._failing:
            del self._failing[key]
            self.log.info("%s: %r succeeded again", self.name, key)


__all__ = ["REMEMBERED_FAILURES", "BatchJob", "ItemFailed", "dependency_down"]
