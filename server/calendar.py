"""School days, deadlines and expiry of signals (DESIGN.md section 6).

Pure functions. Every datetime is timezone-aware; all arithmetic and comparison is done in UTC,
because Python compares and subtracts two datetimes that share a tzinfo by their wall-clock
time, which is wrong around the DST switch. Results are given in Europe/Amsterdam local time.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
REGIONS = ("noord", "midden", "zuid")

# How far ahead deadline() looks; longer than any break plus a generous set of free days.
MAX_SEARCH_DAYS = 400
# A free-days row longer than this is a typo (2062 for 2026), not a study day.
MAX_RANGE_DAYS = 366

_WEEKDAYS = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")
_MONTHS = (
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
)


@lru_cache(maxsize=64)
def _closed_days(region: str, year: int) -> frozenset[date]:
    """Public holidays plus the region's school holidays in one year (holidays 0.109).

    What the package's categories hold (checked by experiment, see tests):
    - "public": Nieuwjaarsdag, Goede Vrijdag, both Easter days, Koningsdag (26 April, a
      Saturday, when 27 April is a Sunday), Bevrijdingsdag only in lustrum years (2025, 2030;
      in other years it is only in "optional"), Hemelvaartsdag, both Pentecost days, both
      Christmas days. Goede Vrijdag is no official day off for schools, but we follow the
      package: for a school open that day the deadline falls one school day later.
    - "school": the herfst-, kerst-, voorjaars-, mei- and zomervakantie per region, Saturday
      to Sunday, only for 2014-2030 (no herfstvakantie in 2030). Later years have public
      holidays only, until the package is updated; admins can enter breaks as free days.
    Building a holidays object costs ~0.5 ms, 20 times a whole deadline() from the cache.
    """
    # country_holidays("NL") builds holidays.Netherlands, with types mypy can see.
    found = holidays.country_holidays(
        "NL", subdiv=region.capitalize(), categories=("public", "school"), years=year
    )
    return frozenset(found)


@dataclass(frozen=True)
class SchoolCalendar:
    region: str
    # The school's own study days and deviating holiday weeks, entered by the admin.
    free_days: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if self.region not in REGIONS:
            raise ValueError(f"unknown region {self.region!r}; expected one of {REGIONS}")

    def is_school_day(self, day: date) -> bool:
        return (
            day.weekday() < 5
            and day not in self.free_days
            and day not in _closed_days(self.region, day.year)
        )


@dataclass(frozen=True)
class Timing:
    school_start: time = time(8, 15)
    school_end: time = time(17, 0)
    min_lead: timedelta = timedelta(minutes=60)
    max_days: int = 7

    def __post_init__(self) -> None:
        if not self.school_start < self.school_end:
            raise ValueError("school_start must be before school_end")
        if self.min_lead < timedelta(0) or self.max_days < 1:
            raise ValueError("min_lead must not be negative and max_days must be at least 1")


@dataclass(frozen=True)
class SignalTimes:
    deadline: datetime
    expires_at: datetime
    # The max_days cap cut the deadline's school day short.
    capped: bool
    # The signal expires before the deadline: the school is on holiday; warn the sender.
    holiday_warning: bool


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("datetime must be timezone-aware")
    return moment.astimezone(UTC)


def _local(day: date, at: time) -> datetime:
    # Through UTC so the result carries the right offset for that date (+01:00 or +02:00).
    return datetime.combine(day, at, tzinfo=AMSTERDAM).astimezone(UTC).astimezone(AMSTERDAM)


def deadline(sent_at: datetime, calendar: SchoolCalendar, timing: Timing) -> datetime:
    """The first school day's school_start at least min_lead after sent_at (Amsterdam time)."""
    earliest = _utc(sent_at) + timing.min_lead
    day = earliest.astimezone(AMSTERDAM).date()
    for _ in range(MAX_SEARCH_DAYS):
        if calendar.is_school_day(day):
            start = _local(day, timing.school_start)
            if _utc(start) >= earliest:
                return start
        day += timedelta(days=1)
    raise ValueError(f"no school day within {MAX_SEARCH_DAYS} days after {sent_at.isoformat()}")


def expiry(sent_at: datetime, deadline: datetime, timing: Timing) -> tuple[datetime, bool]:
    """End of the deadline's school day, but at most max_days after sending; True if capped."""
    day_end = _local(_utc(deadline).astimezone(AMSTERDAM).date(), timing.school_end)
    # Elapsed time, not wall-clock days: "at most 7 days" holds across a DST switch too.
    cap = _utc(sent_at) + timedelta(days=timing.max_days)
    if cap < _utc(day_end):
        return cap.astimezone(AMSTERDAM), True
    return day_end, False


def signal_times(sent_at: datetime, calendar: SchoolCalendar, timing: Timing) -> SignalTimes:
    due = deadline(sent_at, calendar, timing)
    expires_at, capped = expiry(sent_at, due, timing)
    return SignalTimes(due, expires_at, capped, holiday_warning=_utc(expires_at) < _utc(due))


# --- quiet hours ---------------------------------------------------------------------------

QUIET_PATTERN = re.compile(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d")
QUIET_OFF = "off"  # a person's "altijd direct"


@dataclass(frozen=True)
class QuietHours:
    """The nightly hours in which pushes to schools and offices wait, e.g. 21:00-06:30."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours | None:
        """ "HH:MM-HH:MM", or None for "off" (no quiet hours)."""
        if text == QUIET_OFF:
            return None
        if not QUIET_PATTERN.fullmatch(text):
            raise ValueError(f"quiet hours must be HH:MM-HH:MM or {QUIET_OFF}, got {text!r}")
        start, end = (time.fromisoformat(part) for part in text.split("-"))
        if start == end:
            raise ValueError("quiet hours must not start and end at the same time")
        return cls(start, end)

    def contains(self, moment: datetime) -> bool:
        at = _utc(moment).astimezone(AMSTERDAM).time()
        if self.start < self.end:
            return self.start <= at < self.end
        return at >= self.start or at < self.end  # across midnight

    def end_after(self, moment: datetime) -> datetime:
        """When the quiet hours that hold `moment` end (call only when `contains`)."""
        local = _utc(moment).astimezone(AMSTERDAM)
        end = _local(local.date(), self.end)
        return (
            end if _utc(end) > _utc(moment) else _local(local.date() + timedelta(days=1), self.end)
        )


def wakeful(moment: datetime, calendar: SchoolCalendar, quiet: QuietHours | None) -> bool:
    """Reminder time: a school day of this school, outside quiet hours."""
    day = _utc(moment).astimezone(AMSTERDAM).date()
    return calendar.is_school_day(day) and not (quiet and quiet.contains(moment))


def _next_change(moment: datetime, quiet: QuietHours | None) -> datetime:
    """The next local midnight or start or end of quiet hours after `moment`."""
    day = _utc(moment).astimezone(AMSTERDAM).date()
    candidates = [_local(day + timedelta(days=1), time(0))]
    if quiet:
        candidates += [
            _local(d, at) for d in (day, day + timedelta(days=1)) for at in (quiet.start, quiet.end)
        ]
    return min((c for c in candidates if _utc(c) > _utc(moment)), key=_utc)


def after_wakeful(
    start: datetime, seconds: float, calendar: SchoolCalendar, quiet: QuietHours | None
) -> datetime:
    """The moment `seconds` of reminder time (see `wakeful`) have passed since `start`: a
    reminder never fires at night, at the weekend or on the school's free days."""
    moment, left = _utc(start), seconds
    for _ in range(MAX_SEARCH_DAYS * 3):
        change = _utc(_next_change(moment, quiet))
        if wakeful(moment, calendar, quiet):
            span = (change - moment).total_seconds()
            if span >= left:
                return (moment + timedelta(seconds=left)).astimezone(AMSTERDAM)
            left -= span
        moment = change
    raise ValueError(f"no reminder time within {MAX_SEARCH_DAYS} days after {start.isoformat()}")


def format_day(day: date) -> str:
    """Like "maandag 4 mei"; names written out so no locale has to be installed."""
    return f"{_WEEKDAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]}"


def format_moment(moment: datetime) -> str:
    """Like "maandag 4 mei 08:15", in Amsterdam time."""
    local = _utc(moment).astimezone(AMSTERDAM)
    return f"{format_day(local.date())} {local:%H:%M}"


def holiday_warning_text(times: SignalTimes) -> str | None:
    """What the sender reads before sending to a school on holiday; None when not needed."""
    if not times.holiday_warning:
        return None
    back = _utc(times.deadline).astimezone(AMSTERDAM)
    ends = _utc(times.expires_at).astimezone(AMSTERDAM)
    return (
        f"School heeft vakantie tot {format_day(back.date())}; "
        f"het signaal verloopt op {format_day(ends.date())} om {ends:%H:%M}."
    )


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_COLUMNS = ("code", "from", "to")


def _parse_date(value: str, column: str, line: int) -> date:
    # date.fromisoformat alone would also take "20260504" and "2026-W19-1".
    value = value.strip()
    try:
        if _ISO_DATE.fullmatch(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise ValueError(
        f"Regel {line}: ongeldige datum {value!r} in kolom '{column}' (verwacht JJJJ-MM-DD)."
    )


def parse_free_days_csv(text: str) -> dict[str, list[tuple[date, date]]]:
    """Free days for many schools: header "code,from,to", "to" empty means one day.

    Strict: the first bad row refuses the whole file, naming its line, so that an admin never
    imports half a file. Dutch spreadsheets often save with ";", so that is accepted as well.
    """
    text = text.removeprefix("\ufeff")  # Excel's UTF-8 byte order mark
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if ";" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, strict=True)
    try:
        header = [name.strip().lower() for name in next(reader, [])]
    except csv.Error as error:
        raise ValueError(f"Regel 1: onleesbare regel ({error}).") from None
    if not header:
        raise ValueError("Regel 1: het bestand is leeg; verwacht de kopregel code,from,to.")
    if header not in (list(_COLUMNS), list(_COLUMNS[:2])):
        unknown = [name for name in header if name not in _COLUMNS]
        detail = f"onbekende kolommen {', '.join(unknown)}; " if unknown else ""
        raise ValueError(f"Regel 1: {detail}verwacht de kopregel code,from,to.")

    result: dict[str, list[tuple[date, date]]] = {}
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return result
        except csv.Error as error:
            raise ValueError(f"Regel {reader.line_num}: onleesbare regel ({error}).") from None
        line = reader.line_num
        if not any(field.strip() for field in row):
            continue  # blank lines, e.g. at the end of the file
        if len(row) > len(header):
            raise ValueError(
                f"Regel {line}: meer kolommen dan de kopregel ({len(row)} in plaats van "
                f"{len(header)}); onbekende kolommen worden niet ingelezen."
            )
        code, start_text, end_text = (row + ["", ""])[:3]
        code = code.strip()
        if not code:
            raise ValueError(f"Regel {line}: de code (BRIN of vestiging) ontbreekt.")
        start = _parse_date(start_text, "from", line)
        end = _parse_date(end_text, "to", line) if end_text.strip() else start
        if end < start:
            raise ValueError(f"Regel {line}: 'to' ({end}) ligt vóór 'from' ({start}).")
        if (end - start).days >= MAX_RANGE_DAYS:
            raise ValueError(
                f"Regel {line}: periode {start} tot {end} is langer dan een jaar; tikfout?"
            )
        result.setdefault(code, []).append((start, end))


def expand_ranges(ranges: Iterable[tuple[date, date]]) -> frozenset[date]:
    """Every day of each inclusive (from, to) range."""
    days: set[date] = set()
    for start, end in ranges:
        if end < start:
            raise ValueError(f"range ends before it starts: {start} to {end}")
        days.update(start + timedelta(days=n) for n in range((end - start).days + 1))
    return frozenset(days)
