"""Giving memory back after a burst of work (a fan-out sent, a large one planned), and holding
fewer malloc arenas.

CPython returns freed objects to glibc's malloc, which keeps the freed pages in its arenas for
later; a process that once held 12,000 rows' worth of objects stays that large. `malloc_trim(0)`
hands the free pages back to the system. glibc also gives each thread that allocates under
contention an arena of its own (up to 8 per core), each keeping its own free pages; the bot's
threads allocate mostly while holding the GIL, so they gain little from them. Elsewhere than glibc
(macOS, musl) both do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
from collections.abc import Callable
from functools import cache

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)
ARENAS = 2  # the main arena and one more: fewer arenas of free pages, little lock contention


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


@cache
def _mallopt() -> Callable[[int, int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None or _malloc_trim() is None:  # mallopt's parameters here are glibc's
        return None
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt


def release_free_memory() -> bool:
    """Hand the allocator's free pages back to the system; False where that is not possible."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Let malloc make at most `arenas` arenas in this process (threads share them beyond that).
    Takes effect for threads that allocate afterwards: call it before starting threads. False where
    that is not possible, or when the operator chose a number (MALLOC_ARENA_MAX, GLIBC_TUNABLES)."""
    chosen = "MALLOC_ARENA_MAX" in os.environ or "arena_max" in os.environ.get("GLIBC_TUNABLES", "")
    mallopt = None if chosen else _mallopt()
    if mallopt is None:
        return False
    return mallopt(M_ARENA_MAX, arenas) == 1
