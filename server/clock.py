"""The one clock. Tests and `hwc demo --speed` run a week in seconds by replacing it."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


class Clock:
    """Wall-clock time, optionally started at another moment and running faster."""

    def __init__(self, start: float | None = None, speed: float = 1.0) -> None:
        self._real_start = time.time()
        self._start = self._real_start if start is None else start
        self.speed = speed
        self._offset = 0.0

    def now(self) -> float:
        return self._start + (time.time() - self._real_start) * self.speed + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds

    def local(self, at: float | None = None) -> datetime:
        return datetime.fromtimestamp(self.now() if at is None else at, UTC).astimezone(AMSTERDAM)


def local_text(at: float | None) -> str:
    """A moment as people here read it (dd-mm-jjjj uu:mm, Amsterdam time); "nooit" for none."""
    if at is None:
        return "nooit"
    return datetime.fromtimestamp(at, UTC).astimezone(AMSTERDAM).strftime("%d-%m-%Y %H:%M")


class FrozenClock(Clock):
    """Stands still until advanced: what timer tests need."""

    def __init__(self, start: float) -> None:
        super().__init__(start)
        self._frozen = start

    def now(self) -> float:
        return self._frozen

    def advance(self, seconds: float) -> None:
        self._frozen += seconds
