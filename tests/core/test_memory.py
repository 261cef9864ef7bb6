"""Memory freed after a burst of work goes back to the system (glibc only)."""

from __future__ import annotations

import os
import platform

import pytest

from bot.memory import release_free_memory

PAGE = os.sysconf("SC_PAGE_SIZE")


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_freed_memory_in_the_middle_of_the_heap_goes_back() -> None:
    # 40 MB in blocks malloc serves (past pymalloc's 512 bytes), one in 50 kept: the heap's top
    # stays in use, so free() alone gives nothing back.
    blocks = [bytearray(1000) for _ in range(40_000)]
    kept = blocks[::50]
    del blocks
    before = resident_bytes()
    assert release_free_memory()
    assert resident_bytes() < before - 20 * 2**20
    assert len(kept) == 800
