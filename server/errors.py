"""Domain errors: what went wrong, in the domain's own terms, with no HTTP in them.

Domain modules (signals, auth, directory, push, ...) raise these; `server/web.py` maps each to
a status code and a Dutch message in one table (`web.ERRORS`), keyed by `code`, the
machine-readable name the app relies on. `body` holds extra machine-readable fields of the
answer (for instance the current devices with "devices_changed"); `say` holds values the Dutch
message puts in its words (a DomainError among them is put in as its message); `variant` picks
one of a code's messages (the table's key `code.variant`) where one code has several.
Dependency-free on purpose: anything may import it.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """The base of every domain error; `code` None means the kind's generic message."""

    def __init__(
        self,
        code: str | None = None,
        *,
        variant: str | None = None,
        say: dict[str, Any] | None = None,
        text: str | None = None,
        **body: Any,
    ) -> None:
        self.code = code
        self.variant = variant  # which of the code's messages: "code.variant" in web.ERRORS
        self.say = say or {}
        self.text = text  # Dutch words a validator already gave (calendar CSV, TextRefused)
        self.body = body
        super().__init__(code or type(self).__name__)

    @property
    def key(self) -> str | None:
        """The key of its message in web.ERRORS."""
        return f"{self.code}.{self.variant}" if self.variant else self.code


class NotFound(DomainError):
    """It does not exist, or not for this caller."""


class Conflict(DomainError):
    """It conflicts with the current state (changed meanwhile, already done, taken)."""


class Refused(DomainError):
    """This caller may not do this."""


class Invalid(DomainError):
    """The input breaks a rule."""


class Unauthenticated(DomainError):
    """No valid credential: the device is not (or no longer) enrolled."""


class Limited(DomainError):
    """Too many attempts; try again after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = retry_after
