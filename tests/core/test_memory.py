"""Memory freed after a burst of work goes back to the system (glibc only)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from bot.memory import limit_malloc_arenas, release_free_memory

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


# Eight threads that each hold malloc memory at once, then the number of arenas malloc_info reports.
ARENAS_IN_USE = """
import ctypes, sys, threading
from bot.memory import limit_malloc_arenas
if sys.argv[1] == "limited":
    assert limit_malloc_arenas(2)
barrier = threading.Barrier(9)
def hold():
    block = bytearray(100_000)  # served by malloc, from this thread's arena
    barrier.wait()
    barrier.wait()
    del block
threads = [threading.Thread(target=hold) for _ in range(8)]
for thread in threads:
    thread.start()
barrier.wait()
libc = ctypes.CDLL(None)
libc.open_memstream.restype = ctypes.c_void_p
buffer, size = ctypes.c_char_p(), ctypes.c_size_t()
stream = libc.open_memstream(ctypes.byref(buffer), ctypes.byref(size))
libc.malloc_info(0, ctypes.c_void_p(stream))
libc.fclose(ctypes.c_void_p(stream))
print(buffer.value.decode().count("<heap nr="))
barrier.wait()
"""


def arenas_in_use(mode: str) -> int:
    env = {k: v for k, v in os.environ.items() if k not in ("MALLOC_ARENA_MAX", "GLIBC_TUNABLES")}
    done = subprocess.run(
        [sys.executable, "-c", ARENAS_IN_USE, mode], capture_output=True, text=True, env=env, check=True
    )
    return int(done.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="arenas are glibc's")
def test_threads_share_two_malloc_arenas_once_limited() -> None:
    assert arenas_in_use("limited") <= 2
    assert arenas_in_use("unlimited") > 2  # what the limit saves: an arena per busy thread


def test_an_operators_arena_setting_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert not limit_malloc_arenas()
