"""Concurrent senders of signed slash commands, as a process of its own (so the fakes and the bot do
not share its interpreter): `python -m bench.loadgen --url ... --concurrency 10 --requests 500`.

Each sender posts `/baerekraft <text>` as Slack would (form body, `X-Slack-Signature` over the body
and a fresh timestamp) and waits for the HTTP answer before sending its next one (a closed loop, no
pause). It prints one JSON object: the latencies in milliseconds, the statuses, and the wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import time
from collections import Counter
from urllib.parse import urlencode

import httpx

from tests.fakes.slack_platform import SIGNING_SECRET, signed_headers

FORM = "application/x-www-form-urlencoded"


def command_body(text: str, user: str, number: int, response_base: str) -> bytes:
    form = {
        "token": "legacy-verification-token",
        "team_id": "T0FAKE",
        "team_domain": "fake",
        "channel_id": "C0GENERAL",
        "channel_name": "general",
        "user_id": user,
        "user_name": user.lower(),
        "command": "/baerekraft",
        "text": text,
        "api_app_id": "A0BOT",
        "response_url": f"{response_base}/response/bench-{user}-{number}",
        "trigger_id": f"{number}.1000.bench{number}",
    }
    return urlencode(form).encode()


async def run(args: argparse.Namespace) -> dict[str, object]:
    numbers = itertools.count()
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    deadline = time.perf_counter() + args.max_seconds
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)

    async def sender(client: httpx.AsyncClient, measured: bool, budget: int) -> None:
        while True:
            number = next(numbers)
            if number >= budget or time.perf_counter() > deadline:
                return
            user = f"{args.user_prefix}{number + args.first_user:07d}"
            body = command_body(args.text, user, number + args.first_user, args.response_base)
            headers = signed_headers(args.secret, body, int(time.time()), FORM)
            began = time.perf_counter()
            try:
                answer = await client.post(args.url, content=body, headers=headers)
                status = str(answer.status_code)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            elapsed = (time.perf_counter() - began) * 1000
            if measured:
                latencies.append(elapsed)
                statuses[status] += 1

    async with httpx.AsyncClient(timeout=args.timeout, limits=limits) as client:
        # Warm-up: open the connections and let both sides load what they load lazily; not counted.
        await asyncio.gather(*(sender(client, False, args.warmup) for _ in range(args.concurrency)))
        numbers = itertools.count(args.warmup)
        began = time.perf_counter()
        await asyncio.gather(
            *(sender(client, True, args.warmup + args.requests) for _ in range(args.concurrency))
        )
        wall = time.perf_counter() - began
    return {
        "concurrency": args.concurrency,
        "latencies_ms": latencies,
        "statuses": dict(statuses),
        "wall_seconds": wall,
        "users_used": args.warmup + len(latencies),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="the app's Slack Request URL")
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
