"""bot.recurrence: RRULE text for monthly rules, and their next dates across DST."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.commands import Recurrence, SetRecurrence
from bot.parser import parse
from bot.recurrence import from_rrule, next_occurrences, to_rrule

HAVE_HYPOTHESIS = importlib.util.find_spec("hypothesis") is not None

OSLO = "Europe/Oslo"
NINE = time(9, 0)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --- to_rrule / from_rrule -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "rrule"),
    [
        (
            Recurrence(1, 4, time(9), time(10), frozenset({7})),
            "FREQ=MONTHLY;BYDAY=1FR;BYMONTH=1,2,3,4,5,6,8,9,10,11,12",
        ),
        (Recurrence(1, 4, time(9), time(10)), "FREQ=MONTHLY;BYDAY=1FR"),
        (Recurrence(2, 0, time(14), time(15, 30)), "FREQ=MONTHLY;BYDAY=2MO"),
        (
            Recurrence(3, 2, time(8), time(9), frozenset({6, 7, 8})),
            "FREQ=MONTHLY;BYDAY=3WE;BYMONTH=1,2,3,4,5,9,10,11,12",
        ),
        (Recurrence(4, 6, time(18), time(19)), "FREQ=MONTHLY;BYDAY=4SU"),
        (
            Recurrence(-1, 3, time(12), time(13), frozenset({12, 1})),
            "FREQ=MONTHLY;BYDAY=-1TH;BYMONTH=2,3,4,5,6,7,8,9,10,11",
        ),
        (
            Recurrence(-1, 5, time(0), time(23, 59), frozenset(range(2, 13))),
            "FREQ=MONTHLY;BYDAY=-1SA;BYMONTH=1",
        ),
    ],
)
def test_to_rrule_and_back(rule: Recurrence, rrule: str) -> None:
    assert to_rrule(rule) == rrule
    minutes = (rule.end.hour * 60 + rule.end.minute) - (rule.start.hour * 60 + rule.start.minute)
    assert from_rrule(rrule, rule.start, minutes) == rule


@pytest.mark.parametrize(
    "rrule",
    [
        "RRULE:FREQ=MONTHLY;BYDAY=1FR",
        "rrule:freq=monthly;byday=1fr",
        "BYDAY=1FR;FREQ=MONTHLY",
        "  FREQ=MONTHLY;BYDAY=+1FR  ",
        "FREQ=MONTHLY;BYDAY=1FR;BYMONTH=12,1,2,3,4,5,6,7,8,9,10,11",
    ],
)
def test_from_rrule_accepts_equivalent_spellings(rrule: str) -> None:
    assert from_rrule(rrule, NINE, 60) == Recurrence(1, 4, NINE, time(10))


@pytest.mark.parametrize(
    "rule",
    [
        Recurrence(0, 4, NINE, time(10)),
        Recurrence(5, 4, NINE, time(10)),
        Recurrence(-2, 4, NINE, time(10)),
        Recurrence(1, 7, NINE, time(10)),
        Recurrence(1, -1, NINE, time(10)),
        Recurrence(1, 4, NINE, time(9)),
        Recurrence(1, 4, time(10), NINE),
        Recurrence(1, 4, NINE, time(10), frozenset({0})),
        Recurrence(1, 4, NINE, time(10), frozenset({13})),
        Recurrence(1, 4, NINE, time(10), frozenset(range(1, 13))),
    ],
)
def test_to_rrule_refuses_impossible_rules(rule: Recurrence) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        to_rrule(rule)


@pytest.mark.parametrize(
    ("rrule", "start", "minutes"),
    [
        ("FREQ=WEEKLY;BYDAY=FR", NINE, 60),
        ("FREQ=MONTHLY;BYDAY=FR", NINE, 60),
        ("FREQ=MONTHLY;BYDAY=5FR", NINE, 60),
        ("FREQ=MONTHLY;BYDAY=1FR,3FR", NINE, 60),
        ("FREQ=MONTHLY;BYDAY=1XX", NINE, 60),
        ("FREQ=MONTHLY;BYDAY=1FR;INTERVAL=2", NINE, 60),
        ("FREQ=MONTHLY;BYDAY=1FR;BYMONTH=", NINE, 60),
        ("FREQ=MONTHLY;BYDAY=1FR;BYMONTH=0,1", NINE, 60),
        ("FREQ=MONTHLY;BYDAY=1FR;BYMONTH=13", NINE, 60),
        ("FREQ=MONTHLY;BYDAY=1FR;BYMONTH=juli", NINE, 60),
        ("FREQ=MONTHLY;BYDAY=1FR;FREQ=MONTHLY", NINE, 60),
        ("FREQ=MONTHLY;;BYDAY=1FR", NINE, 60),
        ("", NINE, 60),
        ("nonsense", NINE, 60),
        ("FREQ=MONTHLY;BYDAY=1FR", NINE, 0),
        ("FREQ=MONTHLY;BYDAY=1FR", time(23), 60),  # would end at midnight
        ("FREQ=MONTHLY;BYDAY=1FR", time(23), 24 * 60),
    ],
)
def test_from_rrule_refuses_what_it_did_not_write(rrule: str, start: time, minutes: int) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        from_rrule(rrule, start, minutes)


# --- next_occurrences ------------------------------------------------------------------------------

FIRST_FRIDAY_NOT_JULY = "FREQ=MONTHLY;BYDAY=1FR;BYMONTH=1,2,3,4,5,6,8,9,10,11,12"


def test_wall_clock_time_survives_dst_in_oslo() -> None:
    found = next_occurrences(FIRST_FRIDAY_NOT_JULY, NINE, OSLO, utc(2026, 1, 1), 12)
    assert found == [
        utc(2026, 1, 2, 8),  # CET, UTC+1
        utc(2026, 2, 6, 8),
        utc(2026, 3, 6, 8),
        utc(2026, 4, 3, 7),  # CEST, UTC+2
        utc(2026, 5, 1, 7),
        utc(2026, 6, 5, 7),
        utc(2026, 8, 7, 7),  # no July
        utc(2026, 9, 4, 7),
        utc(2026, 10, 2, 7),
        utc(2026, 11, 6, 8),  # back to CET
        utc(2026, 12, 4, 8),
        utc(2027, 1, 1, 8),
    ]
    assert all(moment.tzinfo is UTC for moment in found)
    assert {moment.astimezone(ZoneInfo(OSLO)).time() for moment in found} == {NINE}


def test_last_sunday_on_the_dst_change_days_of_2026() -> None:
    # DST starts 2026-03-29 and ends 2026-10-25 in Europe/Oslo, both the last Sunday of the month.
    found = next_occurrences("FREQ=MONTHLY;BYDAY=-1SU", NINE, OSLO, utc(2026, 2, 1), 9)
    assert found[0] == utc(2026, 2, 22, 8)
    assert found[1] == utc(2026, 3, 29, 7)  # 09:00 CEST, hours after the clocks went forward
    assert found[8] == utc(2026, 10, 25, 8)  # 09:00 CET, hours after the clocks went back
    assert [moment.astimezone(ZoneInfo(OSLO)).hour for moment in found] == [9] * 9


def test_a_time_skipped_by_dst_moves_forward() -> None:
    # 02:30 does not exist in Oslo on 2026-03-29 (02:00 → 03:00): it becomes 03:30 CEST.
    found = next_occurrences("FREQ=MONTHLY;BYDAY=-1SU", time(2, 30), OSLO, utc(2026, 3, 1), 2)
    assert found == [utc(2026, 3, 29, 1, 30), utc(2026, 4, 26, 0, 30)]
    assert found[0].astimezone(ZoneInfo(OSLO)).replace(tzinfo=None) == datetime(2026, 3, 29, 3, 30)


def test_a_time_repeated_by_dst_is_its_first_instance() -> None:
    # 02:30 happens twice in Oslo on 2026-10-25 (03:00 → 02:00): the first, in summer time, counts.
    found = next_occurrences("FREQ=MONTHLY;BYDAY=-1SU", time(2, 30), OSLO, utc(2026, 10, 1), 2)
    assert found == [utc(2026, 10, 25, 0, 30), utc(2026, 11, 29, 1, 30)]


@pytest.mark.parametrize(
    ("after", "first"),
    [
        (utc(2026, 3, 6, 7, 59), utc(2026, 3, 6, 8)),
        (utc(2026, 3, 6, 8, 0), utc(2026, 4, 3, 7)),  # strictly after
        (utc(2026, 3, 6, 8, 0) + timedelta(microseconds=1), utc(2026, 4, 3, 7)),
        (utc(2026, 3, 5, 23, 30), utc(2026, 3, 6, 8)),  # already 6 March in Oslo
        (utc(2026, 6, 5, 7), utc(2026, 8, 7, 7)),  # July is skipped
        (utc(2026, 12, 31, 23, 30), utc(2027, 1, 1, 8)),  # New Year's Day in Oslo
    ],
)
def test_first_occurrence_is_strictly_after(after: datetime, first: datetime) -> None:
    assert next_occurrences(FIRST_FRIDAY_NOT_JULY, NINE, OSLO, after, 1) == [first]


def test_after_may_be_in_any_zone() -> None:
    in_oslo = datetime(2026, 3, 6, 9, 0, tzinfo=ZoneInfo(OSLO))
    in_new_york = datetime(2026, 3, 6, 2, 59, tzinfo=timezone(timedelta(hours=-5)))
    assert next_occurrences(FIRST_FRIDAY_NOT_JULY, NINE, OSLO, in_oslo, 1) == [utc(2026, 4, 3, 7)]
    assert next_occurrences(FIRST_FRIDAY_NOT_JULY, NINE, OSLO, in_new_york, 1) == [utc(2026, 3, 6, 8)]


def test_other_zones_keep_their_own_wall_clock() -> None:
    found = next_occurrences("FREQ=MONTHLY;BYDAY=2TU", time(10), "America/New_York", utc(2026, 3, 1), 2)
    # US DST starts 2026-03-08, before the second Tuesday (10 March).
    assert found == [utc(2026, 3, 10, 14), utc(2026, 4, 14, 14)]
    found = next_occurrences("FREQ=MONTHLY;BYDAY=1TU", time(10), "America/New_York", utc(2026, 3, 1), 1)
    assert found == [utc(2026, 3, 3, 15)]


@pytest.mark.parametrize("count", [0, -1])
def test_no_occurrences_asked_for(count: int) -> None:
    assert next_occurrences(FIRST_FRIDAY_NOT_JULY, NINE, OSLO, utc(2026, 1, 1), count) == []


def test_naive_after_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_occurrences(FIRST_FRIDAY_NOT_JULY, NINE, OSLO, datetime(2026, 1, 1), 1)


def test_parsed_rule_to_dates() -> None:
    command = parse("gjentakelse første fredag i måneden 09:00-10:00 ikke juli")
    assert isinstance(command, SetRecurrence)
    assert command.rule is not None
    rrule = to_rrule(command.rule)
    assert rrule == FIRST_FRIDAY_NOT_JULY
    found = next_occurrences(rrule, command.rule.start, OSLO, utc(2026, 6, 6), 2)
    assert found == [utc(2026, 8, 7, 7), utc(2026, 9, 4, 7)]


if HAVE_HYPOTHESIS:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    rules = st.builds(
        Recurrence,
        ordinal=st.sampled_from([1, 2, 3, 4, -1]),
        weekday=st.integers(0, 6),
        start=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
        end=st.just(time(23, 59)),
        skip_months=st.frozensets(st.integers(1, 12), max_size=11),
    ).filter(lambda rule: rule.start < rule.end)

    @settings(max_examples=200, deadline=None)
    @given(rules)
    def test_rrule_round_trip(rule: Recurrence) -> None:
        minutes = (rule.end.hour * 60 + rule.end.minute) - (rule.start.hour * 60 + rule.start.minute)
        assert from_rrule(to_rrule(rule), rule.start, minutes) == rule

    @settings(max_examples=100, deadline=None)
    @given(rules, st.datetimes(datetime(2000, 1, 1), datetime(2090, 1, 1), timezones=st.just(UTC)))
    def test_occurrences_match_the_rule(rule: Recurrence, after: datetime) -> None:
        found = next_occurrences(to_rrule(rule), rule.start, OSLO, after, 3)
        assert len(found) == 3
        assert found == sorted(found)
        assert found[0] > after
        for moment in found:
            local = moment.astimezone(ZoneInfo(OSLO))
            assert local.weekday() == rule.weekday
            assert local.month not in rule.skip_months
            week = (local.day - 1) // 7 + 1
            if rule.ordinal > 0:
                assert week == rule.ordinal
            else:
                assert (local + timedelta(days=7)).month != local.month
