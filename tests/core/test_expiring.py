"""The directory caches' bound and expiry (bot/expiring.py): the people active now stay cached, and a
stream of new people never grows a process's memory past the bound."""

from __future__ import annotations

import sys
import threading
from datetime import timedelta

import pytest

from bot.expiring import ExpiringCache
from tests.conftest import NOW


def test_an_entry_is_fresh_until_it_expires_and_then_only_stale() -> None:
    cache: ExpiringCache[str, str] = ExpiringCache(10)
    cache.put("U1", "Kari", NOW + timedelta(minutes=10))
    assert cache.fresh("U1", NOW + timedelta(minutes=9)) == (NOW + timedelta(minutes=10), "Kari")
    assert cache.fresh("U1", NOW + timedelta(minutes=10)) is None
    assert cache.get("U1") == (NOW + timedelta(minutes=10), "Kari")  # still there, for a stale answer
    assert cache.get("U2") is None


def test_at_the_bound_the_oldest_written_goes_first() -> None:
    cache: ExpiringCache[str, int] = ExpiringCache(3)
    until = NOW + timedelta(hours=1)
    for n in range(3):
        cache.put(f"U{n}", n, until)
    cache.put("U0", 10, until)  # written again: now the newest
    cache.put("U3", 3, until)  # makes room: U1 was written longest ago
    assert len(cache) == 3
    assert cache.get("U1") is None
    assert [cache.get(key) for key in ("U0", "U2", "U3")] == [(until, 10), (until, 2), (until, 3)]


def test_threads_writing_at_once_never_pass_the_bound() -> None:
    """Four threads at the bound, switching as often as the interpreter lets them: none of their
    writes fails, and the bound holds."""
    cache: ExpiringCache[str, int] = ExpiringCache(50)
    until = NOW + timedelta(hours=1)
    start, failures = threading.Barrier(4), []

    def write(prefix: str) -> None:
        start.wait()
        try:
            for n in range(20000):
                cache.put(f"{prefix}{n}", n, until)
        except Exception as exc:  # reported below, in the test's thread
            failures.append(exc)

    switching = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=write, args=(f"T{t}-",)) for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switching)
    assert failures == []
    assert len(cache) == 50


def test_a_cache_holds_at_least_one_entry() -> None:
    with pytest.raises(ValueError, match="at least one entry"):
        ExpiringCache(0)
