"""The baseline for the fan-out: a direct message to every user, sent the way Bolt's documentation
shows (a loop of `chat_postMessage` with slack_sdk's `RateLimitErrorRetryHandler(max_retry_count=1)`
appended to the client), run as a process of its own against the same paced fake.

    python -m bench.naive --api-url http://127.0.0.1:PORT/api/ --prefix UN --users 10000

A post that still fails after the handler's retry is logged and skipped, as such a script would
(the count is reported as lost). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from tests.slack.fakes.slack_api import BOT_TOKEN

TEXT = (
    "*Påminnelse: Bærekraftsfredag i morgen kl. 09:00*\n"
    "Sirkulær økonomi i kommunen, med Kari Nordmann. Bli med på Teams: <https://teams.example/l/x|Bli med>"
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--prefix", default="UN")
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--max-seconds", type=float, default=300.0, help="give up after this")
    args = parser.parse_args(argv)

    client = WebClient(token=BOT_TOKEN, base_url=args.api_url)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=1))

    sent = lost = 0
    began = time.perf_counter()
    for number in range(args.users):
        if time.perf_counter() - began > args.max_seconds:
            break
        try:
            client.chat_postMessage(channel=f"{args.prefix}{number:07d}", text=TEXT)
            sent += 1
        except SlackApiError as exc:
            lost += 1
            print(f"lost a message: {exc.response.get('error')}", file=sys.stderr)
    wall = time.perf_counter() - began
    json.dump(
        {"sent": sent, "lost": lost, "not_tried": args.users - sent - lost, "wall_seconds": wall}, sys.stdout
    )


if __name__ == "__main__":
    main()
