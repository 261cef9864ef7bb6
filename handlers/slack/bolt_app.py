"""The Bolt app and its two transports: one Request URL on the shared web server (HTTP mode), or a
Socket Mode connection (with SLACK_APP_TOKEN; no public URL needed).

Listeners run in the request's own thread and the HTTP answer goes back when they return
(`process_before_response=True`): they only ack and hand the request over for recording
(`handlers/slack/intake.py`), and the inbox worker does the rest, so Slack hears from us within its 3 s
whatever the load. As nothing on that path waits, it runs on the web server's event loop; only a
request that opens a modal (views.open, before its trigger id expires) or a modal submission (recorded
at once) goes to the thread pool (`listeners.waits_before_answering`). (With
`process_before_response=False`, Bolt runs a listener in another pool and polls every 10 ms for its
ack: up to 10 ms added to every answer, and two threads held per request.)
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

from slack_bolt import App as BoltApp
from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.authorize import Authorize
from slack_bolt.context import BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.signature import SignatureVerifier
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.core import Core
from bot.error_policy import ErrorPolicy
from handlers.slack.client import check_token, modal_client, without_token
from handlers.slack.conversation import SlackConversation
from handlers.slack.intake import Intake
from handlers.slack.listeners import register, waits_before_answering
from handlers.slack.opening import ModalOpener
from handlers.slack.settings import SlackSettings
from handlers.slack.verification import SignedRequestsOnly

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
MAX_BODY = 1_000_000


def build_bolt(
    core: Core,
    settings: SlackSettings,
    client: WebClient,
    conversation: SlackConversation,
    on_error: Callable[[Exception, dict[str, Any]], BoltResponse],
) -> BoltApp:
    """A Bolt app whose listeners act through `conversation`; signatures checked on the bot's clock;
    a listener that raises goes to `on_error` (the channel's use of the error policy)."""
    bolt = BoltApp(
        name="baerekraft-bot",  # else Bolt reads the caller's source through inspect.stack()
        client=without_token(client),
        signing_secret=settings.signing_secret,
        # No auth.test before an ack: the one workspace's bot token is known (`check_token` reports
        # a refused one at start).
        authorize=BotToken(settings.bot_token),
        request_verification_enabled=False,
        before_authorize=SignedRequestsOnly(settings.signing_secret, core.clock),
        process_before_response=True,
        logger=logging.getLogger("handlers.slack.bolt"),
    )
    bolt.error(lambda error, body: on_error(error, body))
    opener = ModalOpener(modal_client(settings), conversation.labels, core.config.language)
    register(bolt, conversation, Intake(core.inbox), opener)
    return bolt


class BotToken(Authorize):
    """The single workspace's bot token for every request, without a Web API call."""

    def __init__(self, token: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.token = token

    def __call__(
        self,
        *,
        context: BoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        actor_enterprise_id: str | None = None,
        actor_team_id: str | None = None,
        actor_user_id: str | None = None,
    ) -> AuthorizeResult:
        return AuthorizeResult(
            enterprise_id=enterprise_id, team_id=team_id, bot_token=self.token, user_id=user_id
        )


def events_route(bolt: BoltApp, verifier: SignatureVerifier) -> Route:
    """`POST /slack/events`: events, slash commands and interactivity, all through one URL. The
    signature is checked on the raw body before anything reads it (401), and a signed body that is no
    Slack request (not a form, a payload that is not a JSON object, nesting past the parser) is 400."""

    async def slack_events(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY:
            return Response("request too large", status_code=413)
        if not signed_by_slack(verifier, body, request.headers):
            log.warning("Slack request refused: bad or stale signature")
            return Response("invalid request", status_code=401)
        if not a_slack_body(body, request.headers.get("content-type", "")):
            return Response("invalid request", status_code=400)
        try:
            bolt_request = to_bolt_request(request, body)
        except Exception as exc:  # signed, yet odd in a way Bolt's reading trips over
            log.warning("Slack request refused: Bolt could not read it (%s)", type(exc).__name__)
            return Response("invalid request", status_code=400)
        if carried_out_on_the_spot(bolt_request):
            bolt_response = await run_in_threadpool(bolt.dispatch, bolt_request)
        else:  # ack and hand over: a millisecond of CPU, no waiting, so no thread hop either
            bolt_response = bolt.dispatch(bolt_request)
        return to_starlette_response(bolt_response)

    return Route(EVENTS_PATH, slack_events, methods=["POST"])


def signed_by_slack(verifier: SignatureVerifier, body: bytes, headers: Mapping[str, str]) -> bool:
    """Slack's signature over the raw body, with a timestamp that is a whole number of seconds."""
    stamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not stamp.isdigit() or len(stamp) > 12 or not signature:
        return False
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return verifier.is_valid(text, stamp, signature)


def a_slack_body(body: bytes, content_type: str) -> bool:
    """What Slack sends: a form (a slash command, or interactivity's `payload`: one JSON object), or
    a JSON object (the Events API)."""
    try:
        text = body.decode("utf-8")
        if content_type.startswith("application/json"):
            return isinstance(json.loads(text), dict)
        form = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    payload = form.get("payload")
    if payload is None:
        return "command" in form or "ssl_check" in form
    try:
        return len(payload) == 1 and isinstance(json.loads(payload[0]), dict)
    except (ValueError, RecursionError):
        return False


def carried_out_on_the_spot(request: BoltRequest) -> bool:
    """Whether the request's listener waits on something before the answer (a modal to open, a
    submission to record)."""
    return waits_before_answering(request.body)


class SocketModeConnection:
    """Socket Mode in the background; `stop()` closes the connection."""

    def __init__(self, bolt: BoltApp, app_token: str, client: WebClient, errors: ErrorPolicy) -> None:
        self.handler = SocketModeHandler(bolt, app_token, web_client=client)
        self.errors = errors
        self.thread = threading.Thread(target=self._connect, name="slack-socket-mode", daemon=True)

    def start(self) -> SocketModeConnection:
        self.thread.start()
        return self

    def _connect(self) -> None:
        with self.errors.guard("slack socket mode"):
            try:
                self.handler.connect()  # type: ignore[no-untyped-call]
                log.info("Slack: Socket Mode connected")
            except (SlackApiError, SlackClientError, OSError) as exc:  # unreachable, or a refused app token
                log.error("Slack: Socket Mode could not connect (%s); check SLACK_APP_TOKEN", _reason(exc))

    def stop(self) -> None:
        self.handler.close()  # type: ignore[no-untyped-call]
        self.thread.join(timeout=5)


def check_token_in_background(client: WebClient) -> None:
    threading.Thread(target=check_token, args=(client,), name="slack-auth-test", daemon=True).start()


def _reason(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    error = response.get("error") if response is not None and hasattr(response, "get") else None
    return str(error or type(exc).__name__)
