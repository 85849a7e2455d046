"""The relay's policy in one place: timers, limits, sizes, the child rule and role labels.

What is a setting (HWC_*) keeps its default and help in server/settings.py; `timing` turns
those settings into the time policy the lifecycle and the timers run on. What the app shows
(role labels, the child rule, the teacher maximum) goes to it in /api/me (`app_policy`), so the
PWA repeats none of these numbers. Dependency-free but for the calendar's pure types.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from server.calendar import QuietHours
from server.calendar import Timing as CalendarTiming

if TYPE_CHECKING:
    from server.settings import Settings

# --- roles ----------------------------------------------------------------------------------

# One Dutch spelling per role, in the admin pages, the demo and the app alike.
ROLE_LABELS = {
    "admin": "beheerder",
    "sender": "melder",
    "contact": "intern begeleider",
    "teacher": "leerkracht",
    "officer": "leerplichtambtenaar",
}

# --- the child: what a sender may send (the app's form and `hwc send`) ----------------------

CHILD_NAME_MAX = 100  # characters (code points), after trimming
CHILD_AGE_MIN = 2  # years on the day of sending, inclusive
CHILD_AGE_MAX = 21
# Letters, with spaces, dots, hyphens and apostrophes between them (not first): one rule in
# the two regular-expression dialects that need it. Python's `re` has no \p{L}; "[^\W\d_]" is
# the same set of letters there. tests/test_browser_shell.py and test_api_signals.py hold both
# to the same names.
NAME_PATTERN = re.compile(r"^[^\W\d_]+(?:[ .'\u2019-]+[^\W\d_]*)*$")
NAME_PATTERN_JS = r"^\p{L}+(?:[ .'’-]+\p{L}*)*$"

# --- limits and sizes -----------------------------------------------------------------------

MAX_TEACHERS = 4  # teachers one forward may reach (a duo-baan and more)
# One envelope per receiving device (a school's contact devices, or the chosen teachers'): no
# school comes near this bound, which sizes the body limit of the three envelope routes. The
# longest DeviceEnvelope is ~1,600 bytes of compact JSON (the field maxima in models.py); a
# client's whitespace gets the rest.
MAX_ENVELOPES = 1000
ENVELOPE_JSON_MAX = 1700
ENVELOPES_BODY_MAX = MAX_ENVELOPES * ENVELOPE_JSON_MAX + 4096  # ~1.7 MB
CSV_MAX_BYTES = 2_000_000  # every school in the country fits; bulk imports only
LIST_MAX_SIGNALS = 200  # rows of a sender's or holder's overview, newest first

# Rate limits: name -> (events, per seconds), one GCRA limiter each (server.auth.RateLimiter).
RATE_LIMITS = {
    "enrol_ip": (20, 600),  # enrolment attempts without a valid link, per client address
    "enrol_token": (5, 600),  # attempts per valid link
    "open": (60, 60),  # envelope opens per device
    "send": (120, 60),  # signals sent per device or API key
    "log": (60, 60),  # key log and heads requests per device or API key, else per address
    "security": (10, 60),  # security events reported per device or API key
    "rotate": (10, 86400),  # new keys per device (weekly, or a suspected leak): the log stays small
}

# Device keys (issue 20 item 4): a device makes a new ECDH key when its current one is this old,
# and an envelope stored this long after a rotation may still be sealed to the old key (the
# sender's list was fetched before it), so the old key is kept for it too.
KEY_ROTATION_DAYS = 7
ROTATION_RACE_SECONDS = 600

# The teacher's screen (WCAG 2.2.1): the copy may stay this much longer, this many times.
VIEW_EXTEND_MINUTES = 5
VIEW_MAX_EXTENSIONS = 10

# --- timers ---------------------------------------------------------------------------------

# A push that quiet hours would hold until closer than this to the deadline goes out at once.
HOLD_MARGIN = 45 * 60


@dataclass(frozen=True)
class Timing:
    """The time policy of a signal, from settings."""

    calendar: CalendarTiming
    view_grace: float
    remind_after: float
    relay_remind_after: float
    retention: float  # status rows, after the signal ended
    revoked_retention: float = 30 * 86400.0  # revoked people, devices and API keys
    token_retention: float = 30 * 86400.0  # spent or expired enrolment links
    audit_retention: float = 365 * 86400.0  # the admin audit trail (server/adminlog.py)
    quiet: QuietHours | None = None  # default quiet hours; a device may have its own


def timing(settings: Settings) -> Timing:
    """Deadline, reminders, grace period and expiry as the lifecycle counts them (seconds)."""
    return Timing(
        calendar=CalendarTiming(
            school_start=settings.school_start_time,
            school_end=settings.school_end_time,
            min_lead=timedelta(minutes=settings.min_lead_minutes),
            max_days=settings.max_days,
        ),
        view_grace=settings.view_grace_minutes * 60.0,
        remind_after=settings.remind_after_minutes * 60.0,
        relay_remind_after=settings.relay_remind_minutes * 60.0,
        retention=settings.status_retention_days * 86400.0,
        revoked_retention=settings.revoked_retention_days * 86400.0,
        token_retention=settings.token_retention_days * 86400.0,
        audit_retention=settings.audit_retention_days * 86400.0,
        quiet=settings.quiet,
    )


# --- what the app shows ---------------------------------------------------------------------


def app_policy() -> dict[str, Any]:
    """The numbers and rules the app states or checks, sent in /api/me."""
    return {
        "max_teachers": MAX_TEACHERS,
        "view_extend_minutes": VIEW_EXTEND_MINUTES,
        "view_max_extensions": VIEW_MAX_EXTENSIONS,
        "key_rotation_days": KEY_ROTATION_DAYS,
        "child": {
            "name_max": CHILD_NAME_MAX,
            "name_pattern": NAME_PATTERN_JS,
            "age_min": CHILD_AGE_MIN,
            "age_max": CHILD_AGE_MAX,
        },
    }
