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

A slash command that waits on nothing (most are: `meld på`, `status`) is answered by the route
itself, which calls the command's listener with an `Ack` of Bolt's, as Bolt would (`plain_command`):
Bolt's dispatch (its request object, a second parse of the form, its context, middleware and listener
matching) was about half the CPU of such an acknowledgement, for nothing it adds to a command. Bolt
dispatches everything else, and runs the same listener for commands that come over Socket Mode.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote_plus

from slack_bolt import Ack, BoltRequest, BoltResponse
from slack_bolt import App as BoltApp
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.authorize import Authorize
from slack_bolt.context import BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.core import Core
from bot.error_policy import ErrorPolicy
from handlers.slack.actions import COMMAND
from handlers.slack.client import check_token, connection_client, modal_client, without_token
from handlers.slack.conversation import SlackConversation
from handlers.slack.intake import Intake
from handlers.slack.listeners import CommandListener, opens_modal, register, waits_before_answering
from handlers.slack.opening import ModalOpener
from handlers.slack.settings import SlackSettings
from handlers.slack.verification import SlackSignature

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
# apps.connections.open's answers that mean the app token itself is refused: no use trying soon.
TOKEN_REFUSED = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "account_inactive", "not_allowed_token_type"}
)
MAX_BODY = 1_000_000


ErrorHandler = Callable[[Exception, dict[str, Any]], BoltResponse]


@dataclass(frozen=True)
class SlackApp:
    """The Bolt app, and what the Request URL needs to answer a plain slash command without it: the
    command's listener as registered on `bolt`, and the error handler Bolt has for a listener that
    raises."""

    bolt: BoltApp
    command: CommandListener
    on_error: ErrorHandler


def build_bolt(
    core: Core,
    settings: SlackSettings,
    client: WebClient,
    conversation: SlackConversation,
    on_error: ErrorHandler,
) -> SlackApp:
    """A Bolt app whose listeners act through `conversation`; signatures checked on the bot's clock;
    a listener that raises goes to `on_error` (the channel's use of the error policy)."""
    bolt = BoltApp(
        name="baerekraft-bot",  # else Bolt reads the caller's source through inspect.stack()
        client=without_token(client),
        signing_secret=settings.signing_secret,
        # No auth.test before an ack: the one workspace's bot token is known (`check_token` reports
        # a refused one at start).
        authorize=BotToken(settings.bot_token),
        # `events_route` checked the signature, on the bot's clock, before Bolt sees the request:
        # checking it twice cost a tenth of the CPU each request takes.
        request_verification_enabled=False,
        process_before_response=True,
        logger=logging.getLogger("handlers.slack.bolt"),
    )
    bolt.error(lambda error, body: on_error(error, body))
    opener = ModalOpener(modal_client(settings), conversation.labels, core.config.language)
    command = register(bolt, conversation, Intake(core.inbox), opener)
    return SlackApp(bolt, command, on_error)


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


def events_route(app: SlackApp, verifier: SlackSignature) -> Route:
    """`POST /slack/events`: events, slash commands and interactivity, all through one URL. The
    signature is checked on the raw body before anything reads it (401), and a signed body that is no
    Slack request (not a form, a payload that is not a JSON object, nesting past the parser) is 400.
    A slash command that waits on nothing is acked here, by its listener; the rest goes to Bolt."""
    bolt = app.bolt

    async def slack_events(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY:
            return Response("request too large", status_code=413)
        text = _text(body)
        if text is None or not signed_by_slack(verifier, body, request.headers):
            log.warning("Slack request refused: bad or stale signature")
            return Response("invalid request", status_code=401)
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/json"):
            if not a_json_object(text):
                return Response("invalid request", status_code=400)
        else:
            form = read_form(text)
            if form is None or not a_slack_form(form, text):
                return Response("invalid request", status_code=400)
            if plain_command(form, text):
                return to_starlette_response(answer_command(app, form))
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


def _text(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:  # Slack signs text
        return None


def signed_by_slack(verifier: SlackSignature, body: bytes, headers: Mapping[str, str]) -> bool:
    """Slack's signature over the raw body, with a timestamp that is a whole number of seconds."""
    stamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if len(stamp) > 12 or not signature:
        return False
    return verifier.is_valid(body, stamp, signature)


def a_slack_body(body: bytes, content_type: str) -> bool:
    """What Slack sends: a form (a slash command, or interactivity's `payload`: one JSON object), or
    a JSON object (the Events API)."""
    text = _text(body)
    if text is None:
        return False
    if content_type.startswith("application/json"):
        return a_json_object(text)
    form = read_form(text)
    return form is not None and a_slack_form(form, text)


def a_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return False


def read_form(text: str) -> dict[str, str] | None:
    """A form as Slack writes one (every field `name=value`, none empty), read as Bolt reads a form
    (`parse_qsl` keeping blank values: `+` and %-escapes decoded, bad UTF-8 replaced, the last of a
    repeated field kept); None for any other text. Only a name or value with `+` or `%` in it is
    decoded: most of Slack's are plain, and decoding every one was a tenth of an ack's CPU."""
    form: dict[str, str] = {}
    for field in text.split("&"):
        name, equals, value = field.partition("=")
        if not equals:
            return None
        if "%" in name or "+" in name:
            name = unquote_plus(name)
        form[name] = unquote_plus(value) if "%" in value or "+" in value else value
    return form


def a_slack_form(form: Mapping[str, str], text: str) -> bool:
    """A slash command, an ssl_check, or interactivity's one `payload`, a JSON object."""
    if "payload" not in form:
        return "command" in form or "ssl_check" in form
    payload = parse_qs(text, keep_blank_values=True)["payload"]
    return len(payload) == 1 and a_json_object(payload[0])


def plain_command(form: dict[str, str], text: str) -> bool:
    """Whether the form `form` (of `text`) is a `/baerekraft` command whose listener waits on nothing
    (it opens no modal), which Bolt would read as this form. Bolt dispatches anything else: another
    command, an ssl_check, a command that opens a modal, and a text Bolt reads as JSON (one starting
    with `{`) or as interactivity (one with `payload` anywhere in it)."""
    return (
        form.get("command") == COMMAND
        and "ssl_check" not in form
        and "payload" not in text
        and not text.startswith("{")
        and not opens_modal(form)
    )


def answer_command(app: SlackApp, form: dict[str, str]) -> BoltResponse:
    """What Bolt's dispatch answers a slash command: its listener acks with an `Ack` of Bolt's, and
    a listener that raises is answered by the same error handler."""
    ack = Ack()  # type: ignore[no-untyped-call]
    try:
        app.command(ack, form)
    except Exception as exc:
        return app.on_error(exc, form)
    return ack.response or BoltResponse(status=404, body={"error": "unhandled request"})  # unacked


def carried_out_on_the_spot(request: BoltRequest) -> bool:
    """Whether the request's listener waits on something before the answer (a modal to open, a
    submission to record)."""
    return waits_before_answering(request.body)


class _OwnLineForConnectFailures(logging.Filter):
    """slack_sdk logs an error for every failed apps.connections.open; the connection logs its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Failed to retrieve WSS URL")


SOCKET_LOG = logging.getLogger("handlers.slack.socket")
SOCKET_LOG.addFilter(_OwnLineForConnectFailures())


class SocketModeConnection:
    """Socket Mode in the background, kept connected; `stop()` closes the connection.

    slack_sdk connects once (a failed first connection is never tried again) and reconnects a dropped
    one every ping interval without backoff. Here one thread connects, and after a failure or a drop
    connects again with exponential backoff and jitter (`backoff_seconds` doubling up to
    `max_backoff_seconds`); a refused app token is logged once and tried again at the slowest pace.
    `state()` is what `/healthz` shows: "on", "connecting", or "reconnecting (<why>)".
    """

    def __init__(
        self,
        bolt: BoltApp,
        app_token: str,
        client: WebClient,
        errors: ErrorPolicy,
        *,
        backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 60.0,
        check_seconds: float = 1.0,
    ) -> None:
        self.handler = SocketModeHandler(
            bolt,
            app_token,
            logger=SOCKET_LOG,
            web_client=connection_client(client),
            auto_reconnect_enabled=False,
        )
        self.errors = errors
        self.backoff_seconds, self.max_backoff_seconds = backoff_seconds, max_backoff_seconds
        self.check_seconds = check_seconds
        self._state = "connecting"
        self._stopping = threading.Event()
        self._dropped = threading.Event()  # a hint from the SDK; `is_connected()` decides
        self.handler.client.on_close_listeners.append(lambda _code, _reason: self._dropped.set())
        self.handler.client.on_error_listeners.append(lambda _error: self._dropped.set())
        self.thread = threading.Thread(target=self._keep_connected, name="slack-socket-mode", daemon=True)

    def start(self) -> SocketModeConnection:
        self.thread.start()
        return self

    def state(self) -> str:
        return self._state

    def _keep_connected(self) -> None:
        failures = 0
        token_refused = False
        while not self._stopping.is_set():
            with self.errors.guard("slack socket mode"):
                try:
                    self._dropped.clear()
                    self.handler.client.connect_to_new_endpoint(force=True)
                except (SlackApiError, SlackClientError, OSError) as exc:
                    reason = _reason(exc)
                    failures += 1
                    self._state = f"reconnecting ({reason})"
                    if reason in TOKEN_REFUSED:
                        if not token_refused:
                            log.error(
                                "Slack: Socket Mode refused the app token (%s); check SLACK_APP_TOKEN", reason
                            )
                        token_refused = True
                        delay = self.max_backoff_seconds
                    else:
                        delay = self._backoff(failures)
                        if failures == 1:
                            log.warning("Slack: Socket Mode could not connect (%s); trying again", reason)
                    self._stopping.wait(delay)
                    continue
                log.info("Slack: Socket Mode connected")
                failures, token_refused = 0, False
                self._state = "on"
                while not self._stopping.is_set() and self.handler.client.is_connected():
                    self._dropped.wait(self.check_seconds)
                    self._dropped.clear()
                if not self._stopping.is_set():
                    self._state = "reconnecting (connection lost)"
                    log.warning("Slack: Socket Mode connection lost; connecting again")
                continue
            self._stopping.wait(self.max_backoff_seconds)  # unexpected: reported by the error policy

    def _backoff(self, failures: int) -> float:
        """Exponential, capped, with jitter: between half and all of base × 2^(failures-1)."""
        ceiling = min(self.max_backoff_seconds, self.backoff_seconds * 2.0 ** min(failures - 1, 30))
        return ceiling * (0.5 + random.random() / 2)

    def stop(self) -> None:
        self._stopping.set()
        self.handler.close()  # type: ignore[no-untyped-call]
        self.thread.join(timeout=5)


def check_token_in_background(client: WebClient) -> None:
    threading.Thread(target=check_token, args=(client,), name="slack-auth-test", daemon=True).start()


def _reason(exc: Exception) -> str:
    """An HTTP status other than 200, else Slack's error code, else the exception's type (never a
    secret)."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if isinstance(status, int) and status != 200:
        return f"HTTP {status}"
    error = response.get("error") if response is not None and hasattr(response, "get") else None
    return str(error or type(exc).__name__)
