"""The shared pace in the database (bot.delivery.pacing): one send per interval in the long run, a
burst's worth back to back, a late send caught up, and a 429's pause kept whatever the burst."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.delivery import pacing
from bot.delivery.channels import Pace
from bot.entry.composition import App
from tests.conftest import NOW

SECOND = timedelta(seconds=1)


def _book(app: App, paces: list[Pace], at: datetime) -> datetime:
    with app.db.transaction() as s:
        return pacing.reserve(s, paces, at)


def test_without_a_burst_sends_are_one_interval_apart(app: App) -> None:
    pace = [Pace("mailbox", SECOND)]
    assert [_book(app, pace, NOW) for _ in range(4)] == [NOW + n * SECOND for n in range(4)]


def test_a_burst_goes_back_to_back_then_the_steady_pace_holds(app: App) -> None:
    pace = [Pace("workspace", SECOND, burst=3)]
    slots = [_book(app, pace, NOW) for _ in range(6)]
    assert slots == [NOW, NOW, NOW, NOW + SECOND, NOW + 2 * SECOND, NOW + 3 * SECOND]


def test_a_late_send_is_caught_up_within_the_burst(app: App) -> None:
    pace = [Pace("workspace", SECOND, burst=3)]
    for _ in range(3):  # the burst is used up: the steady pace binds
        _book(app, pace, NOW)
    late = NOW + 2.5 * SECOND  # the send booked for NOW + 1 s comes 1.5 s late
    assert _book(app, pace, late) == late
    assert _book(app, pace, late) == late  # the next goes at once: the lost time is made up
    assert _book(app, pace, late) == late + 0.5 * SECOND  # and then the steady pace again


def test_every_key_of_a_send_is_kept(app: App) -> None:
    channel, workspace = Pace("slack:D1", SECOND), Pace("workspace", SECOND / 10, burst=3)
    assert _book(app, [channel, workspace], NOW) == NOW
    assert _book(app, [Pace("slack:D2", SECOND), workspace], NOW) == NOW  # another channel: the burst
    assert _book(app, [channel, workspace], NOW) == NOW + SECOND  # the same channel: its pace binds


def test_after_a_429_nothing_goes_before_the_pause_ends_whatever_the_burst(app: App) -> None:
    pace = [Pace("workspace", SECOND, burst=5)]
    until = NOW + 30 * SECOND
    with app.db.transaction() as s:
        pacing.push_back(s, pace, until)
    assert _book(app, pace, NOW) == until
    assert _book(app, pace, NOW) == until + SECOND  # no burst right after a 429


def test_sends_booked_together_get_the_slots_they_would_get_one_by_one(app: App) -> None:
    def sends(prefix: str) -> list[list[Pace]]:
        workspace = Pace(f"{prefix}:workspace", SECOND / 4, burst=3)
        channels = ["D1", "D2", "D1", "D3", "D1", "D2"]  # D1 again within its one-a-second pace
        return [[Pace(f"{prefix}:{channel}", SECOND), workspace] for channel in channels]

    apart = [_book(app, paces, NOW) for paces in sends("apart")]
    with app.db.transaction() as s:
        together = pacing.reserve_each(s, sends("together"), NOW)
    assert together == apart
    # D1's own pace binds its second and third send; the workspace's burst is used up by the fourth.
    assert apart == [NOW, NOW, NOW + SECOND, NOW + 0.75 * SECOND, NOW + 2 * SECOND, NOW + 1.75 * SECOND]
    # The keys moved on as far as by the sends one by one.
    assert _book(app, sends("together")[0], NOW) == _book(app, sends("apart")[0], NOW) == NOW + 3 * SECOND


def test_booking_together_ends_after_the_first_slot_beyond_the_limit(app: App) -> None:
    pace = [Pace("mailbox", SECOND)]
    with app.db.transaction() as s:
        slots = pacing.reserve_each(s, [pace] * 5, NOW, within=1.5 * SECOND)
    assert slots == [NOW, NOW + SECOND, NOW + 2 * SECOND]  # the third lies beyond, and is booked
    assert _book(app, pace, NOW) == NOW + 3 * SECOND  # the two after it were not
