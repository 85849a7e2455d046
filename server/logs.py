"""Log lines for a platform's log drain: one line per record, on stdout, UTC timestamps.

The hwc.* loggers write at HWC_LOG_LEVEL (hwc.access: one line per request); every other
logger, uvicorn's among them, only its warnings and errors. uvicorn's own stderr handlers and
its access log (which would write paths with their query strings) are taken out.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

FORMAT = "%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s %(message)s"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"


class OneLineFormatter(logging.Formatter):
    """A record, traceback included, on one line: a drain splits its input at newlines."""

    converter = staticmethod(time.gmtime)

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\r", "").replace("\n", " | ")


class StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stdout is when a record comes (test runners swap it)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)
        self.setFormatter(OneLineFormatter(FORMAT, DATE_FORMAT))
        self.addFilter(_ours_or_a_warning)

    @property
    def stream(self) -> TextIO:
        return sys.stdout


def _ours_or_a_warning(record: logging.LogRecord) -> bool:
    return record.name.split(".")[0] == "hwc" or record.levelno >= logging.WARNING


def configure(level: str) -> None:
    """Send the process's log lines to stdout; safe to call again (each app's lifespan does)."""
    root = logging.getLogger()
    if not any(isinstance(handler, StdoutHandler) for handler in root.handlers):
        root.addHandler(StdoutHandler())
    logging.getLogger("hwc").setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        uvicorn_log = logging.getLogger(name)
        for handler in [h for h in uvicorn_log.handlers if type(h) is logging.StreamHandler]:
            uvicorn_log.removeHandler(handler)
        uvicorn_log.propagate = True
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
