"""Wake-ups: who is waiting for the log to grow, or for a read model to reach a position.

In-process, a save wakes the runners at once through a condition variable; across processes,
PostgreSQL LISTEN/NOTIFY feeds the same object (see projections/listener.py). Async waiters
(GraphQL subscriptions, `min_position` reads) are woken on their own event loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterable


class LogNotifier:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._head = 0
        self._generation = 0
        self._positions: dict[str, int] = {}
        self._unhealthy: set[str] = set()
        self._async_waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    @property
    def head(self) -> int:
        return self._head

    @property
    def generation(self) -> int:
        """Counts wake-ups: a waiter that read it before looking at the log misses none."""
        return self._generation

    def appended(self, position: int | None = None) -> None:
        """The log grew (to `position`, when known)."""
        with self._cond:
            self._generation += 1
            if position is not None:
                self._head = max(self._head, position)
            self._cond.notify_all()
            waiters = list(self._async_waiters)
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)

    def progressed(self, projection: str, position: int) -> None:
        with self._cond:
            if position > self._positions.get(projection, -1):
                self._positions[projection] = position
                self._cond.notify_all()

    def progressed_many(self, projections: Iterable[str], position: int) -> None:
        """Several read models reached `position` in one batch: one wake-up for all."""
        with self._cond:
            for projection in projections:
                if position > self._positions.get(projection, -1):
                    self._positions[projection] = position
            self._cond.notify_all()

    def set_healthy(self, projection: str, healthy: bool) -> None:
        """A failing or paused projection is not waited for by writes (they would only time
        out); it is reported by /ready instead."""
        with self._cond:
            if healthy == (projection in self._unhealthy):
                if healthy:
                    self._unhealthy.discard(projection)
                else:
                    self._unhealthy.add(projection)
                self._cond.notify_all()

    def is_healthy(self, projection: str) -> bool:
        return projection not in self._unhealthy

    def wait_for_health(self, projection: str, healthy: bool, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while (projection not in self._unhealthy) != healthy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def position_of(self, projection: str) -> int | None:
        return self._positions.get(projection)

    def wait_for_append(self, seen_generation: int, timeout: float) -> None:
        """Block until the log may have grown since `seen_generation`, or `timeout` passes."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._generation == seen_generation:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._cond.wait(remaining)

    def wait_for_positions(self, position: int, projections: Iterable[str], timeout: float) -> bool:
        names = list(projections)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if all(
                    self._positions.get(n, -1) >= position
                    for n in names
                    if n not in self._unhealthy
                ):
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)

    async def wait_for_append_async(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        waiter = (loop, event)
        with self._cond:
            self._async_waiters.add(waiter)
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            pass
        finally:
            with self._cond:
                self._async_waiters.discard(waiter)
