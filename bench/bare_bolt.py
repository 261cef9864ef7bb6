"""The baseline for acknowledgement latency: a bare Bolt app that answers `/baerekraft` with a constant
text, written as Bolt's documentation shows, served the way the bot serves its Request URL
(Starlette on uvicorn in one process) and checking the same signatures (Bolt's own verification).

By default it is Bolt's default (`process_before_response=False`: the listener runs in Bolt's pool
and the request's thread polls every 10 ms for the ack), with `App.dispatch` in Starlette's thread
pool (Bolt's own Starlette adapter would call it on the event loop, one request at a time).
`--process-before-response` is the leanest Bolt app there is: the listener in the request's thread
and `App.dispatch` on the event loop, as the bot serves a command (`bot/slack/bolt_app.py`).

    python -m bench.bare_bolt --port 8123 --api-url http://127.0.0.1:PORT/api/ [--process-before-response]
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

from tests.slack.fakes.slack_api import BOT_TOKEN
from tests.slack.fakes.slack_platform import SIGNING_SECRET


def build(api_url: str, *, process_before_response: bool = False) -> Starlette:
    bolt = BoltApp(
        client=WebClient(token=BOT_TOKEN, base_url=api_url),
        signing_secret=SIGNING_SECRET,
        token_verification_enabled=False,
        process_before_response=process_before_response,
        logger=logging.getLogger("bare-bolt"),
    )

    @bolt.command("/baerekraft")
    def answer(ack: Ack) -> None:
        ack("Takk! Du er påmeldt.")

    async def events(request: Request) -> Response:
        bolt_request = to_bolt_request(request, await request.body())
        if process_before_response:
            return to_starlette_response(bolt.dispatch(bolt_request))
        return to_starlette_response(await run_in_threadpool(bolt.dispatch, bolt_request))

    async def healthz(_request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"]), Route("/healthz", healthz)])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--process-before-response", action="store_true")
    args = parser.parse_args(argv)
    app = build(args.api_url, process_before_response=args.process_before_response)
    # As bot/web.py configures it.
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", lifespan="off")


if __name__ == "__main__":
    main()
