"""bot.tokens: each kind of token only passes as itself, with its own key, within its own time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import ManualClock
from bot.tokens import (
    ExpiredToken,
    InvalidToken,
    csrf_field,
    csrf_matches,
    new_confirm_token,
    read_confirm_token,
    read_undo_token,
    read_unsubscribe_token,
    undo_token,
    unsubscribe_token,
)

KEY = "a-secret-key-for-tokens-0123456789"
OTHER = "another-secret-key-9876543210"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 4, 10, 0, tzinfo=UTC))


def test_unsubscribe_tokens_round_trip_and_never_expire() -> None:
    assert read_unsubscribe_token(KEY, unsubscribe_token(KEY, 12, 3)) == (12, 3)


@pytest.mark.parametrize("token", ["", "abc", "WzEsMl0", "WzEsMl0.", "WyJhIiwgMl0.x"])
def test_malformed_unsubscribe_tokens_are_invalid(token: str) -> None:
    with pytest.raises(InvalidToken):
        read_unsubscribe_token(KEY, token)


def test_a_token_made_with_another_key_is_invalid() -> None:
    with pytest.raises(InvalidToken):
        read_unsubscribe_token(KEY, unsubscribe_token(OTHER, 1, 2))


def test_confirm_tokens_expire_after_three_days(clock: ManualClock) -> None:
    token, stored = new_confirm_token(KEY, clock)
    clock.advance(timedelta(days=3))
    assert read_confirm_token(KEY, clock, token) == stored
    clock.advance(timedelta(seconds=1))
    with pytest.raises(ExpiredToken) as expired:
        read_confirm_token(KEY, clock, token)
    assert expired.value.token_hash == stored


def test_a_confirm_token_from_the_future_is_refused(clock: ManualClock) -> None:
    token, _ = new_confirm_token(KEY, clock)
    clock.advance(timedelta(hours=-1))
    with pytest.raises(ExpiredToken):
        read_confirm_token(KEY, clock, token)


def test_confirm_tokens_are_random_and_stored_only_as_a_hash(clock: ManualClock) -> None:
    first, first_hash = new_confirm_token(KEY, clock)
    second, second_hash = new_confirm_token(KEY, clock)
    assert first != second and first_hash != second_hash
    assert first_hash not in first and len(first_hash) == 64


def test_no_token_passes_for_another_purpose(clock: ManualClock) -> None:
    unsubscribe = unsubscribe_token(KEY, 1, 2)
    confirm, _ = new_confirm_token(KEY, clock)
    undo = undo_token(KEY, clock, 1, 2)
    with pytest.raises(InvalidToken):
        read_confirm_token(KEY, clock, unsubscribe)
    with pytest.raises(InvalidToken):
        read_undo_token(KEY, clock, unsubscribe)
    with pytest.raises(InvalidToken):
        read_undo_token(KEY, clock, confirm)
    with pytest.raises(InvalidToken):
        read_unsubscribe_token(KEY, undo)
    with pytest.raises(InvalidToken):
        read_unsubscribe_token(KEY, csrf_field(KEY, "x" * 30))


def test_undo_tokens_last_a_day(clock: ManualClock) -> None:
    token = undo_token(KEY, clock, 5, 6)
    assert read_undo_token(KEY, clock, token) == (5, 6)
    clock.advance(timedelta(days=1, seconds=1))
    with pytest.raises(ExpiredToken):
        read_undo_token(KEY, clock, token)


def test_the_csrf_field_matches_only_its_cookie() -> None:
    field = csrf_field(KEY, "cookie-value-one-xxxxxx")
    assert csrf_matches(KEY, "cookie-value-one-xxxxxx", field)
    assert not csrf_matches(KEY, "cookie-value-two-xxxxxx", field)
    assert not csrf_matches(OTHER, "cookie-value-one-xxxxxx", field)
    assert not csrf_matches(KEY, "cookie-value-one-xxxxxx", "")
