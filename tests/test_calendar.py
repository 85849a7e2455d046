"""School days, deadline and expiry (DESIGN.md section 6), checked against the holidays data."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache

import holidays
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.calendar import (
    AMSTERDAM,
    REGIONS,
    SchoolCalendar,
    SignalTimes,
    Timing,
    deadline,
    expand_ranges,
    expiry,
    format_day,
    format_moment,
    holiday_warning_text,
    parse_free_days_csv,
    signal_times,
)

DEFAULT = Timing()


def ams(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=AMSTERDAM)


def utc(moment: datetime) -> datetime:
    # Same-tzinfo datetimes compare by wall clock; UTC makes every comparison exact.
    return moment.astimezone(UTC)


# Oracle straight from the package, built independently of server.calendar's cache.
@cache
def public_days() -> holidays.HolidayBase:
    return holidays.country_holidays("NL", categories=("public",), years=range(2025, 2031))


@cache
def school_holidays(region: str) -> holidays.HolidayBase:
    return holidays.country_holidays(
        "NL", subdiv=region.capitalize(), categories=("school",), years=range(2025, 2031)
    )


def oracle_school_day(region: str, free: frozenset[date], day: date) -> bool:
    return (
        day.weekday() < 5
        and day not in public_days()
        and day not in school_holidays(region)
        and day not in free
    )


# --- What the holidays package (0.109) says -------------------------------------------------


def test_bevrijdingsdag_is_public_only_in_lustrum_years() -> None:
    lustrum = {y for y in range(2021, 2031) if date(y, 5, 5) in public_days()}
    assert lustrum == {2025, 2030}
    # So in 2026 it is an ordinary school day unless the admin enters it as a free day.
    assert SchoolCalendar("midden").is_school_day(date(2026, 5, 5))
    assert deadline(ams(2026, 5, 4, 20, 0), SchoolCalendar("midden"), DEFAULT) == ams(
        2026, 5, 5, 8, 15
    )
    # 2025: Monday 5 May is a public holiday.
    assert deadline(ams(2025, 5, 2, 20, 0), SchoolCalendar("noord"), DEFAULT) == ams(
        2025, 5, 6, 8, 15
    )


def test_koningsdag_moves_to_saturday_when_27_april_is_a_sunday() -> None:
    assert date(2025, 4, 27).weekday() == 6
    assert date(2025, 4, 26) in public_days()
    assert date(2025, 4, 27) not in public_days()


@pytest.mark.parametrize("region", REGIONS)
def test_koningsdag_2028_outside_meivakantie_is_no_school_day(region: str) -> None:
    # Thursday 27 April 2028, the meivakantie starts Saturday 29 April.
    calendar = SchoolCalendar(region)
    assert not calendar.is_school_day(date(2028, 4, 27))
    assert deadline(ams(2028, 4, 26, 20, 0), calendar, DEFAULT) == ams(2028, 4, 28, 8, 15)


@pytest.mark.parametrize("region", REGIONS)
def test_meivakantie_2026_is_25_april_to_3_may_in_every_region(region: str) -> None:
    may = {d for d, name in school_holidays(region).items() if d.year == 2026 and "May" in name}
    assert may == expand_ranges([(date(2026, 4, 25), date(2026, 5, 3))])


def test_good_friday_is_in_the_public_category() -> None:
    # Not an official day off for schools, but the package's "public" has it and we follow it.
    assert date(2026, 4, 3) in public_days()
    assert not SchoolCalendar("zuid").is_school_day(date(2026, 4, 3))


# --- Worked examples from the issue ----------------------------------------------------------


@pytest.mark.parametrize("region", REGIONS)
def test_friday_night_goes_to_monday(region: str) -> None:
    # 2 October 2026: no break in any region (herfstvakantie starts 10 October at the earliest).
    assert deadline(ams(2026, 10, 2, 22, 0), SchoolCalendar(region), DEFAULT) == ams(
        2026, 10, 5, 8, 15
    )


@pytest.mark.parametrize("region", REGIONS)
def test_hemelvaart_and_a_free_friday(region: str) -> None:
    sent = ams(2026, 5, 13, 20, 0)
    times = signal_times(sent, SchoolCalendar(region), DEFAULT)
    assert times == SignalTimes(
        ams(2026, 5, 15, 8, 15), ams(2026, 5, 15, 17, 0), capped=False, holiday_warning=False
    )
    assert holiday_warning_text(times) is None
    free_friday = SchoolCalendar(region, frozenset({date(2026, 5, 15)}))
    assert deadline(sent, free_friday, DEFAULT) == ams(2026, 5, 18, 8, 15)


def test_meivakantie_caps_expiry_and_warns_the_sender() -> None:
    times = signal_times(ams(2026, 4, 24, 20, 0), SchoolCalendar("midden"), DEFAULT)
    assert times.deadline == ams(2026, 5, 4, 8, 15)
    assert times.expires_at == ams(2026, 5, 1, 20, 0)
    assert times.capped and times.holiday_warning
    assert holiday_warning_text(times) == (
        "School heeft vakantie tot maandag 4 mei; het signaal verloopt op vrijdag 1 mei om 20:00."
    )


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        (ams(2026, 10, 6, 7, 30), ams(2026, 10, 7, 8, 15)),  # Tuesday 07:30: too late for today
        (ams(2026, 10, 6, 7, 0), ams(2026, 10, 6, 8, 15)),  # Tuesday 07:00: today
        (ams(2026, 10, 6, 7, 15), ams(2026, 10, 6, 8, 15)),  # exactly min_lead is enough
        (ams(2026, 10, 6, 7, 15, 1), ams(2026, 10, 7, 8, 15)),  # one second short
    ],
)
def test_min_lead(sent: datetime, expected: datetime) -> None:
    assert deadline(sent, SchoolCalendar("noord"), DEFAULT) == expected


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize(
    ("sent", "expected", "offset_hours"),
    [
        # Clocks go forward on Sunday 29 March 2026.
        (ams(2026, 3, 27, 22, 0), ams(2026, 3, 30, 8, 15), 2),
        # Clocks go back on Sunday 25 October 2026.
        (ams(2026, 10, 23, 22, 0), ams(2026, 10, 26, 8, 15), 1),
    ],
)
def test_dst(region: str, sent: datetime, expected: datetime, offset_hours: int) -> None:
    due = deadline(sent, SchoolCalendar(region), DEFAULT)
    assert sent.utcoffset() == timedelta(hours=3 - offset_hours)
    assert due.utcoffset() == timedelta(hours=offset_hours)
    assert due.isoformat() == expected.isoformat()
    assert utc(due).time() == time(8 - offset_hours, 15)
    # The same moment given in UTC gives the same answer.
    assert deadline(utc(sent), SchoolCalendar(region), DEFAULT).isoformat() == due.isoformat()


def test_cap_within_the_deadline_day_does_not_warn() -> None:
    times = signal_times(ams(2026, 10, 5, 10, 0), SchoolCalendar("noord"), Timing(max_days=1))
    assert times.deadline == ams(2026, 10, 6, 8, 15)
    assert times.expires_at == ams(2026, 10, 6, 10, 0)
    assert times.capped and not times.holiday_warning
    assert holiday_warning_text(times) is None


def test_cap_exactly_at_day_end_is_not_capped() -> None:
    times = signal_times(ams(2026, 10, 5, 17, 0), SchoolCalendar("noord"), Timing(max_days=1))
    assert (times.expires_at, times.capped) == (ams(2026, 10, 6, 17, 0), False)


def test_cap_counts_elapsed_time_across_dst() -> None:
    # Herfstvakantie midden 2028 ends Sunday 29 October, the night the clocks go back: 9 x 24 h
    # after Friday 20:00 (+02:00) is Sunday 19:00 (+01:00), not 20:00.
    times = signal_times(ams(2028, 10, 20, 20, 0), SchoolCalendar("midden"), Timing(max_days=9))
    assert times.deadline == ams(2028, 10, 30, 8, 15)
    assert times.expires_at.isoformat() == "2028-10-29T19:00:00+01:00"
    assert times.capped and times.holiday_warning
    assert holiday_warning_text(times) == (
        "School heeft vakantie tot maandag 30 oktober; "
        "het signaal verloopt op zondag 29 oktober om 19:00."
    )


def test_expiry_function() -> None:
    sent = ams(2026, 10, 2, 22, 0)
    assert expiry(sent, ams(2026, 10, 5, 8, 15), DEFAULT) == (ams(2026, 10, 5, 17, 0), False)
    assert expiry(sent, ams(2026, 10, 12, 8, 15), DEFAULT) == (ams(2026, 10, 9, 22, 0), True)


def test_formatting() -> None:
    assert format_moment(ams(2026, 5, 4, 8, 15)) == "maandag 4 mei 08:15"
    assert format_moment(datetime(2026, 5, 4, 6, 15, tzinfo=UTC)) == "maandag 4 mei 08:15"
    assert format_moment(datetime(2026, 1, 1, 7, 5, tzinfo=UTC)) == "donderdag 1 januari 08:05"
    assert format_day(date(2026, 10, 25)) == "zondag 25 oktober"
    assert [format_day(date(2026, m, 1)).split()[2] for m in range(1, 13)] == [
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
    ]
    assert [format_day(date(2026, 6, d)).split()[0] for d in range(1, 8)] == [
        "maandag",
        "dinsdag",
        "woensdag",
        "donderdag",
        "vrijdag",
        "zaterdag",
        "zondag",
    ]


def test_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="aware"):
        deadline(datetime(2026, 10, 2, 22, 0), SchoolCalendar("noord"), DEFAULT)
    with pytest.raises(ValueError, match="region"):
        SchoolCalendar("oost")
    with pytest.raises(ValueError):
        Timing(school_start=time(17, 0), school_end=time(8, 15))
    closed = expand_ranges([(date(2026, 1, 1), date(2027, 6, 1))])
    with pytest.raises(ValueError, match="no school day"):
        deadline(ams(2026, 1, 1, 12, 0), SchoolCalendar("noord", closed), DEFAULT)


# --- Properties ------------------------------------------------------------------------------


@st.composite
def cases(draw: st.DrawFn) -> tuple[datetime, SchoolCalendar, Timing]:
    sent = draw(
        st.datetimes(
            min_value=datetime(2026, 1, 1),
            max_value=datetime(2028, 12, 31, 23, 59, 59),
            timezones=st.sampled_from([UTC, AMSTERDAM]),
            allow_imaginary=False,
        )
    )
    base = utc(sent).date()
    offsets = draw(st.lists(st.integers(-2, 40), max_size=15))
    free = frozenset(base + timedelta(days=n) for n in offsets)
    timing = Timing(
        school_start=time(draw(st.integers(6, 10)), draw(st.sampled_from([0, 15, 30, 45]))),
        school_end=time(draw(st.integers(12, 18)), 0),
        min_lead=timedelta(minutes=draw(st.sampled_from([0, 1, 60, 61, 180, 24 * 60, 3000]))),
        max_days=draw(st.integers(1, 10)),
    )
    return sent, SchoolCalendar(draw(st.sampled_from(REGIONS)), free), timing


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_signal_times_properties(case: tuple[datetime, SchoolCalendar, Timing]) -> None:
    sent, calendar, timing = case
    times = signal_times(sent, calendar, timing)
    due = times.deadline
    earliest = utc(sent) + timing.min_lead

    # A school day at exactly school_start, Amsterdam time with that date's offset.
    day = due.date()
    assert due.tzinfo is AMSTERDAM and due.time() == timing.school_start
    assert utc(due) == utc(datetime.combine(day, timing.school_start, tzinfo=AMSTERDAM))
    assert oracle_school_day(calendar.region, calendar.free_days, day)
    assert day.weekday() < 5 and day not in public_days() and day not in calendar.free_days
    assert utc(due) >= earliest

    # The earliest: no school day's start between sent_at + min_lead and the deadline.
    probe = utc(sent).astimezone(AMSTERDAM).date() - timedelta(days=1)
    while probe < day:
        start = utc(datetime.combine(probe, timing.school_start, tzinfo=AMSTERDAM))
        if start >= earliest:
            assert not oracle_school_day(calendar.region, calendar.free_days, probe), probe
        probe += timedelta(days=1)

    # Expiry: never later than max_days after sending, never before the deadline unless capped.
    expires = utc(times.expires_at)
    day_end = utc(datetime.combine(day, timing.school_end, tzinfo=AMSTERDAM))
    assert expires - utc(sent) <= timedelta(days=timing.max_days)
    assert times.holiday_warning == (expires < utc(due))
    if times.capped:
        assert expires == utc(sent) + timedelta(days=timing.max_days) < day_end
    else:
        assert expires == day_end
        assert not times.holiday_warning
    assert (holiday_warning_text(times) is None) == (not times.holiday_warning)


# --- CSV import of free days -----------------------------------------------------------------


def test_csv_good_file() -> None:
    text = (
        "code,from,to\n"
        "12AB,2026-10-05,2026-10-09\n"
        "12AB00,2026-11-02,\n"
        " 34CD , 2027-01-15 , 2027-01-15 \n"
        "\n"
        "12AB,2027-02-01,2027-02-01\n"
    )
    assert parse_free_days_csv(text) == {
        "12AB": [(date(2026, 10, 5), date(2026, 10, 9)), (date(2027, 2, 1), date(2027, 2, 1))],
        "12AB00": [(date(2026, 11, 2), date(2026, 11, 2))],
        "34CD": [(date(2027, 1, 15), date(2027, 1, 15))],
    }


def test_csv_from_a_dutch_spreadsheet() -> None:
    # Byte order mark, semicolons, CRLF, and no "to" column at all.
    text = "\ufeffCode;From\r\n12AB;2026-10-05\r\n"
    assert parse_free_days_csv(text) == {"12AB": [(date(2026, 10, 5), date(2026, 10, 5))]}


def test_csv_free_days_move_the_deadline() -> None:
    ranges = parse_free_days_csv("code,from,to\n12AB,2026-10-05,2026-10-06\n")["12AB"]
    calendar = SchoolCalendar("noord", expand_ranges(ranges))
    assert deadline(ams(2026, 10, 2, 22, 0), calendar, DEFAULT) == ams(2026, 10, 7, 8, 15)


H = "code,from,to\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Regel 1: het bestand is leeg"),
        ("code,van,tot\n12AB,2026-10-05,\n", "Regel 1: onbekende kolommen van, tot"),
        ("code,from,to,naam\n12AB,2026-10-05,,x\n", "Regel 1: onbekende kolommen naam"),
        ("from,code\n2026-10-05,12AB\n", "Regel 1: verwacht de kopregel"),
        (H + "12AB,2026-10-05,,Jan\n", "Regel 2: meer kolommen"),
        ("code,from\n12AB,2026-10-05,2026-10-06\n", "Regel 2: meer kolommen"),
        (H + "12AB,2026-10-05,\n12AB,2026-13-01,\n", "Regel 3: ongeldige datum '2026-13-01'"),
        (H + "12AB,05-10-2026,\n", "Regel 2: ongeldige datum '05-10-2026' in kolom 'from'"),
        (H + "12AB,20261005,\n", "Regel 2: ongeldige datum '20261005'"),
        (H + "12AB,2026-10-05,morgen\n", "Regel 2: ongeldige datum 'morgen' in kolom 'to'"),
        (H + "12AB,,2026-10-05\n", "Regel 2: ongeldige datum '' in kolom 'from'"),
        (H + "12AB\n", "Regel 2: ongeldige datum '' in kolom 'from'"),
        (H + "12AB,2026-10-05,2026-10-04\n", "Regel 2: 'to' .* vóór 'from'"),
        (H + "12AB,2026-10-05,\n ,2026-10-05,\n", "Regel 3: de code .* ontbreekt"),
        (H + "12AB,2026-10-05,2062-10-05\n", "Regel 2: .*langer dan een jaar"),
        (H + "12AB,2026-10-05,\n\n\n12AB,x,\n", "Regel 5: ongeldige datum 'x'"),
        (H + '"12AB,2026-10-05\n', "Regel 2: onleesbare regel"),
    ],
)
def test_csv_bad_rows_are_refused_with_the_line_number(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_free_days_csv(text)


def test_expand_ranges() -> None:
    overlapping = [(date(2026, 10, 5), date(2026, 10, 9)), (date(2026, 10, 8), date(2026, 10, 12))]
    days = expand_ranges(overlapping)
    assert days == frozenset(date(2026, 10, d) for d in range(5, 13))
    assert expand_ranges([]) == frozenset()
    with pytest.raises(ValueError):
        expand_ranges([(date(2026, 10, 9), date(2026, 10, 5))])
