"""Senders of signed Slack requests whose answers come back at a response_url, as a process of its own
(so the fake and the bot do not share its interpreter): `python -m bench.answer_load --url ... <
requests.json`-like, driven by `bench/answers.py`.

The requests (bodies built by the bench, whose fake issued their trigger ids and response_urls) come
in a JSON file; each is signed before the clock starts. Two ways to send them:
- `closed`: `--concurrency` senders, each on its own kept-alive connection, send one request, read
  its ack, then wait until the bench says (a line with the response_url's key on stdin, written when
  the fake took the answer) that its answer arrived, and only then send the next one;
- `burst`: all the requests within `--spread` seconds, evenly spaced, over `--concurrency`
  connections, without waiting for any answer.
It prints one JSON object: when (time.time()) each request was sent, by key; the acks' statuses and
latencies; the keys whose answer never came (closed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path

from bench.loadgen import Connection, signed_post
from tests.slack.fakes.slack_platform import SIGNING_SECRET

# A connection idle this long is opened anew before the next request: a closed-loop sender waits for
# answers, and the bot's web server (uvicorn) closes a kept-alive connection idle for 5 s.
IDLE_SECONDS = 4.0


class Arrivals:
    """The keys the bench reports on stdin as their answers arrive at the fake."""

    def __init__(self) -> None:
        self.events: dict[str, asyncio.Event] = {}

    def event(self, key: str) -> asyncio.Event:
        return self.events.setdefault(key, asyncio.Event())

    async def listen(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            self.event(line.decode().strip()).set()


async def run(args: argparse.Namespace) -> dict[str, object]:
    requests = [
        (r["key"], signed_post(args.url, args.secret, r["body"].encode())) for r in _load(args.requests)
    ]
    sent_at: dict[str, float] = {}
    ack_ms: list[float] = []
    statuses: Counter[str] = Counter()
    missing: list[str] = []
    arrivals = Arrivals()
    listener = asyncio.create_task(arrivals.listen()) if args.mode == "closed" else None
    connections = [await Connection.open(args.url) for _ in range(args.concurrency)]

    last_used = [time.perf_counter()] * len(connections)

    async def exchange(index: int, key: str, request: bytes) -> None:
        if time.perf_counter() - last_used[index] > IDLE_SECONDS:  # the server may have closed it
            connections[index].close()
            connections[index] = await Connection.open(args.url)
        began = time.perf_counter()
        sent_at[key] = time.time()
        try:
            status = str(await asyncio.wait_for(connections[index].exchange(request), args.timeout))
        except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
            status = type(exc).__name__
            connections[index].close()
            connections[index] = await Connection.open(args.url)
        ack_ms.append((time.perf_counter() - began) * 1000)
        statuses[status] += 1
        last_used[index] = time.perf_counter()

    queue = list(reversed(requests))

    async def closed(index: int) -> None:
        while queue:
            key, request = queue.pop()
            arrived = arrivals.event(key)
            await exchange(index, key, request)
            try:
                await asyncio.wait_for(arrived.wait(), args.answer_timeout)
            except TimeoutError:
                missing.append(key)

    async def burst(index: int, began: float) -> None:
        for number in range(index, len(requests), len(connections)):
            due = began + args.spread * number / len(requests)
            pause = due - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
            await exchange(index, *requests[number])

    began = time.perf_counter()
    if args.mode == "closed":
        await asyncio.gather(*(closed(i) for i in range(len(connections))))
    else:
        await asyncio.gather(*(burst(i, began) for i in range(len(connections))))
    wall = time.perf_counter() - began
    for connection in connections:
        connection.close()
    if listener is not None:
        listener.cancel()
    return {
        "sent_at": sent_at,
        "ack_ms": ack_ms,
        "statuses": dict(statuses),
        "missing": missing,
        "wall_seconds": wall,
    }


def _load(path: str) -> list[dict[str, str]]:
    return list(json.loads(Path(path).read_text()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="the app's Slack Request URL")
    parser.add_argument("--requests", required=True, help="JSON file: [{key, body}, ...]")
    parser.add_argument("--mode", choices=("closed", "burst"), default="closed")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--spread", type=float, default=1.0, help="burst: seconds over which to send")
    parser.add_argument("--timeout", type=float, default=10.0, help="for each ack")
    parser.add_argument("--answer-timeout", type=float, default=30.0, help="closed: for each answer")
    parser.add_argument("--secret", default=SIGNING_SECRET)
    args = parser.parse_args(argv)
    json.dump(asyncio.run(run(args)), sys.stdout)


if __name__ == "__main__":
    main()
