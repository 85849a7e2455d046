"""Background tasks (push worker, timers) that outlive their own crashes.

A task that raises is logged (type, operator words, frames; never a message, which may quote
input), restarted after a backoff that doubles up to MAX_BACKOFF, and shown in readiness while it
waits. A task that ran STABLE_AFTER seconds before dying starts again from the first backoff.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from server.db import describe

log = logging.getLogger("hwc.tasks")

FIRST_BACKOFF = 1.0
MAX_BACKOFF = 60.0
STABLE_AFTER = 60.0


@dataclass
class TaskHealth:
    name: str
    restarts: int = 0
    last_error: str | None = None
    restart_at: float | None = None  # monotonic; set while waiting to restart

    def fault(self) -> str | None:
        """Why the task is not running now, in words; None while it runs."""
        if self.restart_at is None:
            return None
        wait = max(0.0, self.restart_at - time.monotonic())
        return f"stopped after {self.last_error}; restart {self.restarts + 1} in {wait:.0f} s"


async def supervised(
    run: Callable[[], Awaitable[None]], health: TaskHealth, first_backoff: float = FIRST_BACKOFF
) -> None:
    """Run `run()` for ever: after each crash (or return) wait, then run it again."""
    backoff = first_backoff
    while True:
        started = time.monotonic()
        try:
            await run()
            error_text, frames = "an unexpected return", ""
        except Exception as error:
            error_text = describe(error)
            frames = "".join(traceback.format_tb(error.__traceback__))
        if time.monotonic() - started >= STABLE_AFTER:
            backoff = first_backoff
        health.last_error = error_text
        health.restart_at = time.monotonic() + backoff
        log.error(
            "%s stopped after %s; restarting in %.0f s (restart %d)\n%s",
            health.name,
            error_text,
            backoff,
            health.restarts + 1,
            frames,
        )
        await asyncio.sleep(backoff)
        health.restarts += 1
        health.restart_at = None
        backoff = min(backoff * 2, MAX_BACKOFF)
