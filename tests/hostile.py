"""Hostile input the tests send through every entry point."""

from __future__ import annotations

# Each was accepted once: two recipients in one (and a way around the per-address mail limit), markup,
# a stray bracket, control characters, a display name, quoting, a literal address, over-long parts.
HOSTILE = [
    "x0,victim@x.no",
    "a@x.no,victim@x.no",
    "a@x.no;victim@x.no",
    "<script>@x.no",
    "a@x.no>",
    "<a@x.no>",
    "a\x00@x.no",
    "a@x.no\x00",
    "a\x07b@x.no",
    "a@x.no\u200b",
    "a@x\u202e.no",
    '"a,b"@x.no',
    "a@[127.0.0.1]",
    "a@localhost",
    "a..b@x.no",
    "a@x..no",
    "a" * 65 + "@x.no",
    "a@" + "b" * 64 + ".no",
    "a@" + ".".join(["b" * 60] * 5) + ".no",
    "ø@x.no",
]
