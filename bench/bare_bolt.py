"""The baseline for acknowledgement latency: a bare Bolt app that answers `/baerekraft` with a constant
text, written as Bolt's documentation shows, served exactly the way the bot serves its Request URL
(Starlette on uvicorn in one process, `App.dispatch` in Starlette's thread pool, as
`bot/slack/bolt_app.events_route` does; Bolt's own Starlette adapter would call it on the event loop)
and checking the same signatures (Bolt's own verification).

    python -m bench.bare_bolt --port 8123 --api-url http://127.0.0.1:PORT/api/
"""

from __future__ import annotations

import argparse
import logging

import uvicorn
from slack_bolt import Ack
from slack_bolt import App as BoltApp
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk import WebClient
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tests.fakes.slack_api import BOT_TOKEN
from tests.fakes.slack_platform import SIGNING_SECRET


def build(api_url: str) -> Starlette:
    bolt = BoltApp(
        client=WebClient(token=BOT_TOKEN, base_url=api_url),
        signing_secret=SIGNING_SECRET,
        token_verification_enabled=False,
        logger=logging.getLogger("bare-bolt"),
    )

    @bolt.command("/baerekraft")
    def answer(ack: Ack) -> None:
        ack("Takk! Du er påmeldt.")

    async def events(request: Request) -> Response:
        body = await request.body()
        return to_starlette_response(await run_in_threadpool(bolt.dispatch, to_bolt_request(request, body)))

    async def healthz(_request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"]), Route("/healthz", healthz)])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-url", required=True)
    args = parser.parse_args(argv)
    # As bot/web.py configures it.
    uvicorn.run(build(args.api_url), host="127.0.0.1", port=args.port, log_level="warning", lifespan="off")


if __name__ == "__main__":
    main()
