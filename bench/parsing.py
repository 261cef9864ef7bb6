"""The parser against hostile input: the slowest parse of each line of the adversarial set (the
longest a chat line may be, built to make a careless parser backtrack), next to an ordinary command
parsed the same number of times. Was a timed test (< 0.5 s a line); a bench measures it instead."""

from __future__ import annotations

import time
from dataclasses import dataclass

from bot.parser import MAX_LENGTH, parse
from tests.core.test_parser import ADVERSARIAL

ROUNDS = 20
ORDINARY = "ny økt 2026-03-06 09:00 Sirkulær økonomi; tema=SDG 12; varighet=60; foredragsholdere=Kari, Ola"


@dataclass
class Parsing:
    lines: int
    longest_line: int
    worst_ms: float
    worst_line: str
    median_ms: float
    ordinary_ms: float


def _slowest(text: str) -> float:
    times = []
    for _ in range(ROUNDS):
        began = time.perf_counter()
        parse(text)
        times.append(time.perf_counter() - began)
    return min(times) * 1000  # the least disturbed of the rounds: the parser's own cost


def run_parsing() -> Parsing:
    costs = sorted((_slowest(text), text) for text in ADVERSARIAL)
    worst_ms, worst = costs[-1]
    return Parsing(
        lines=len(ADVERSARIAL),
        longest_line=max(len(text) for text in ADVERSARIAL),
        worst_ms=worst_ms,
        worst_line=f"{worst[:24]}… ({len(worst):,} characters)",
        median_ms=costs[len(costs) // 2][0],
        ordinary_ms=_slowest(ORDINARY),
    )


assert max(len(text) for text in ADVERSARIAL) <= MAX_LENGTH
