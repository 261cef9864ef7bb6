"""Concurrent senders of signed slash commands, as a process of its own (so the fakes and the bot do
not share its interpreter): `python -m bench.loadgen --url ... --concurrency 10 --requests 500`.

Each sender posts `/baerekraft <text>` as Slack would (form body, `X-Slack-Signature` over the body
and a fresh timestamp) on its own kept-alive connection, and waits for the HTTP answer before
sending its next one (a closed loop, no pause). It prints one JSON object: the latencies in
milliseconds, the statuses, and the wall time.

The client is a few lines of HTTP/1.1 over asyncio streams, and every request is built and signed
before the clock starts: a general-purpose client costs about a millisecond of CPU per request on
this machine, and at 50 senders its own queueing reached half a second at p99 against a server that
answers at once, which would be measured as the app's latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from urllib.parse import urlencode, urlsplit

from tests.slack.fakes.slack_platform import SIGNING_SECRET, signed_headers, slash_command_form

FORM = "application/x-www-form-urlencoded"


def response_key(user: str, number: int) -> str:
    """The key of the response_url the command of sender `number` (user `user`) carries; the bench's
    Slack fake issues it beforehand, as Slack issues one with each command."""
    return f"bench-{user}-{number}"


def command_body(text: str, user: str, number: int, response_base: str) -> bytes:
    response_url = f"{response_base}/response/{response_key(user, number)}"
    return urlencode(slash_command_form(text, user, response_url, f"{number}.1000.bench{number}")).encode()


def signed_request(args: argparse.Namespace, number: int) -> bytes:
    """The whole HTTP/1.1 request for sender number `number`, as bytes on the wire."""
    user = f"{args.user_prefix}{number:07d}"
    return signed_post(args.url, args.secret, command_body(args.text, user, number, args.response_base))


def signed_post(url: str, secret: str, body: bytes) -> bytes:
    """A whole HTTP/1.1 POST of a form `body` to `url`, signed now as Slack signs, as bytes on the wire."""
    target = urlsplit(url)
    headers = {
        "Host": target.netloc,
        "Content-Length": str(len(body)),
        **signed_headers(secret, body, int(time.time()), FORM),
    }
    head = f"POST {target.path or '/'} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode("latin-1") + b"\r\n" + body


class Connection:
    """One kept-alive HTTP/1.1 connection; `exchange` sends a request and reads its whole answer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, url: str) -> Connection:
        target = urlsplit(url)
        reader, writer = await asyncio.open_connection(target.hostname, target.port or 80)
        return cls(reader, writer)

    async def exchange(self, request: bytes) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        length = 0
        for line in header_lines:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "transfer-encoding":
                raise RuntimeError(f"the load generator reads only Content-Length answers: {line}")
        if length:
            await self.reader.readexactly(length)
        return int(status_line.split(" ", 2)[1])

    def close(self) -> None:
        self.writer.close()


async def run(args: argparse.Namespace) -> dict[str, object]:
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    first = args.first_user
    warmup = [signed_request(args, first + n) for n in range(args.warmup)]
    measured = [signed_request(args, first + args.warmup + n) for n in range(args.requests)]
    connections = [await Connection.open(args.url) for _ in range(args.concurrency)]
    deadline = 0.0

    async def sender(index: int, queue: list[bytes], record: bool) -> None:
        while queue and time.perf_counter() <= deadline:
            request = queue.pop()
            began = time.perf_counter()
            try:
                status = str(await asyncio.wait_for(connections[index].exchange(request), args.timeout))
            except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
                status = type(exc).__name__
                connections[index].close()  # a late answer must not be read as the next one's
                connections[index] = await Connection.open(args.url)
            if record:
                latencies.append((time.perf_counter() - began) * 1000)
                statuses[status] += 1

    # Warm-up: every connection used, and both sides have loaded what they load lazily; not counted.
    warmup.reverse()
    deadline = time.perf_counter() + args.max_seconds
    await asyncio.gather(*(sender(i, warmup, False) for i in range(len(connections))))
    measured.reverse()  # popped from the end: sent in user order
    began = time.perf_counter()
    deadline = began + args.max_seconds
    await asyncio.gather(*(sender(i, measured, True) for i in range(len(connections))))
    wall = time.perf_counter() - began
    for connection in connections:
        connection.close()
    return {
        "concurrency": args.concurrency,
        "latencies_ms": latencies,
        "statuses": dict(statuses),
        "wall_seconds": wall,
        "users_used": args.warmup + len(latencies),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="the app's Slack Request URL (http://host:port/path)")
    parser.add_argument("--response-base", required=True, help="base URL of the fake Slack (response_url)")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--requests", type=int, default=100, help="measured requests in all")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--max-seconds", type=float, default=60.0, help="stop sending after this")
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--text", default="meld på")
    parser.add_argument("--user-prefix", default="UL")
    parser.add_argument("--first-user", type=int, default=0)
    parser.add_argument("--secret", default=SIGNING_SECRET)
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
