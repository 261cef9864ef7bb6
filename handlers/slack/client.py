"""The Slack Web API client, and the response_url client, with retries for 429, 5xx and timeouts.

slack_sdk retries only connection errors by default. Here a 429 waits its `Retry-After`, a 5xx or a
timeout is retried with exponential backoff, and every call has a timeout, so a slow Slack never
holds a worker for long. The inbound listeners use these; the delivery engine's sender, users.info
and App Home have callers on kept-alive connections without retries (`sending_client`, `api_client`,
handlers/slack/web_api.py).

Two callers retry less. A modal is opened with one short try (`modal_client`): its trigger id lives
3 s. A response_url answer that may have arrived (a 5xx, a timeout while reading) is not sent again:
Slack would show it twice, and each try spends one of the URL's 5 uses; only a request that never got
out (connection refused) or a 429 is sent again. Answers go out on kept-alive connections
(`response_url_client`, on http.client: handlers/slack/connections.py), shared by the threads that
answer.
"""

from __future__ import annotations

import json
import logging
import random
import time
from http.client import RemoteDisconnected
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import RetryHandler
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.jitter import Jitter
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from handlers.slack.connections import KeptConnections, NoAnswer, NotSent
from handlers.slack.settings import SlackSettings
from handlers.slack.web_api import SlackWebAPI

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10
MODAL_TIMEOUT_SECONDS = 2  # views.open on the ack path: the trigger id lives 3 s, the ack is due in 3 s
RATE_LIMIT_RETRIES = 5
SERVER_ERROR_RETRIES = 3
CONNECTION_RETRIES = 3


class ServerErrorRetryHandler(RetryHandler):
    """Retries any 5xx answer (slack_sdk's own handler knows only 500 and 503)."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and 500 <= response.status_code <= 599


class ProportionalJitter(Jitter):
    """Up to as much again as the interval, at random (slack_sdk's default adds up to a whole second)."""

    def recalculate(self, duration: float) -> float:
        return duration * (1 + random.random())


class _OneLinePerFailure(logging.Filter):
    """slack_sdk logs an error for every failed attempt; the caller logs the outcome once."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Failed to send a request to Slack API server")


WEB_LOG = logging.getLogger("handlers.slack.web")
WEB_LOG.addFilter(_OneLinePerFailure())


class RateLimitRetryHandler(RateLimitErrorRetryHandler):
    """On 429: wait what Retry-After says (1 s when it says nothing), plus up to a tenth more."""

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is None:
            raise error or RuntimeError("rate limited without a response")
        header = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), None)
        try:
            seconds = max(1.0, float(header[0])) if header else 1.0
        except ValueError:
            seconds = 1.0
        state.next_attempt_requested = True
        time.sleep(seconds * (1 + random.random() / 10))
        state.increment_current_attempt()


def retry_handlers(backoff_seconds: float = 0.5) -> list[RetryHandler]:
    """429 → wait Retry-After; 5xx, timeouts and dropped connections → exponential backoff."""
    backoff = BackoffRetryIntervalCalculator(backoff_factor=backoff_seconds, jitter=ProportionalJitter())
    return [
        RateLimitRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
        ServerErrorRetryHandler(max_retry_count=SERVER_ERROR_RETRIES, interval_calculator=backoff),
        ConnectionErrorRetryHandler(
            max_retry_count=CONNECTION_RETRIES,
            interval_calculator=backoff,
            error_types=[URLError, ConnectionResetError, RemoteDisconnected, TimeoutError],
        ),
    ]


def make_web_client(
    settings: SlackSettings, *, timeout: int = TIMEOUT_SECONDS, backoff_seconds: float = 0.5
) -> WebClient:
    """A WebClient for `settings.api_url` (Slack, or a fake) with the bot token and the retries."""
    return WebClient(
        token=settings.bot_token,
        base_url=settings.api_url,
        timeout=timeout,
        retry_handlers=retry_handlers(backoff_seconds),
        logger=WEB_LOG,
    )


def modal_client(settings: SlackSettings, *, timeout: int = MODAL_TIMEOUT_SECONDS) -> WebClient:
    """For views.open on the ack path: one try with a short timeout (a retry would come after the
    trigger id expired, and would hold the ack)."""
    return WebClient(
        token=settings.bot_token,
        base_url=settings.api_url,
        timeout=timeout,
        retry_handlers=[],
        logger=WEB_LOG,
    )


def connection_client(client: WebClient) -> WebClient:
    """For apps.connections.open (Socket Mode): no retries of its own, the caller backs off."""
    return WebClient(base_url=client.base_url, timeout=client.timeout, retry_handlers=[], logger=WEB_LOG)


def sending_client(settings: SlackSettings, *, timeout: float = TIMEOUT_SECONDS) -> SlackWebAPI:
    """The delivery engine's caller: kept-alive connections, no retries of its own. The engine waits
    out a 429 for every process at once, and retries a post whose answer was lost only after checking
    it did not go out."""
    return SlackWebAPI(settings.api_url, settings.bot_token, timeout=timeout)


def api_client(settings: SlackSettings, *, timeout: float = TIMEOUT_SECONDS) -> SlackWebAPI:
    """For users.info and views.publish after an ack: kept-alive connections, no retries (a 429 is
    not waited out in the inbox worker: handlers/slack/identity.py, home_publisher.py)."""
    return SlackWebAPI(settings.api_url, settings.bot_token, timeout=timeout)


def without_token(client: WebClient) -> WebClient:
    """The same client without the bot token: for Bolt, which takes its token from `authorize`."""
    return WebClient(
        base_url=client.base_url, timeout=client.timeout, retry_handlers=client.retry_handlers, logger=WEB_LOG
    )


def response_url_client() -> KeptConnections:
    """For response_url answers: kept-alive connections (Slack's hooks, like its Web API, keep them),
    shared by the threads that answer (handlers/slack/connections.py)."""
    return KeptConnections()


def post_to_response_url(
    url: str,
    body: dict[str, Any],
    *,
    timeout: int = TIMEOUT_SECONDS,
    backoff_seconds: float = 0.5,
    http: KeptConnections | None = None,
) -> bool:
    """Answer an interaction through its `response_url`, at most once (see the module's docstring),
    on `http`'s connections (else a connection of its own); False on failure, logged once."""
    client = http or response_url_client()
    try:
        return _post_at_most_once(client, url, json.dumps(body).encode(), timeout, backoff_seconds)
    finally:
        if http is None:
            client.close()


def _post_at_most_once(
    client: KeptConnections, url: str, content: bytes, timeout: float, backoff: float
) -> bool:
    """A 429 waits its Retry-After and a refused connection backs off, then they are sent again;
    nothing else is (a 5xx or a timeout may come after Slack showed the answer)."""
    limited = refused = 0
    while True:
        try:
            answer = client.post(url, content, timeout=timeout)
        except NotSent as exc:  # no connection: nothing was sent
            if refused < CONNECTION_RETRIES and exc.transient:
                refused += 1
                time.sleep(backoff * 2 ** (refused - 1) * (1 + random.random()))
                continue
            log.warning("Slack response_url unreachable (%s): not sent again", exc)
            return False
        except NoAnswer as exc:
            log.warning("Slack response_url gave no answer (%s): not sent again", exc)
            return False
        if answer.status == 429 and limited < RATE_LIMIT_RETRIES:
            limited += 1
            time.sleep(_retry_after(answer.retry_after) * (1 + random.random() / 10))
            continue
        if answer.status != 200:
            error = answer.text[:40]
            log.warning("Slack response_url answered %s %s: not sent again", answer.status, error)
            return False
        return True


def _retry_after(header: str | None) -> float:
    try:
        return max(1.0, float(header)) if header else 1.0
    except ValueError:
        return 1.0


def check_token(client: WebClient) -> bool:
    """auth.test once; a refused or unreachable token is one clear log line, never a crash."""
    try:
        result = client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        log.error("Slack: the bot token was refused (%s); check SLACK_BOT_TOKEN", error or "no answer")
        return False
    except (URLError, OSError) as exc:
        log.error("Slack: cannot reach %s (%s); check SLACK_API_URL", client.base_url, type(exc).__name__)
        return False
    log.info("Slack: connected as %s in %s", result.get("user"), result.get("team"))
    return True
