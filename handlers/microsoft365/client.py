"""A small Microsoft Graph client on httpx: tokens per call, retries that respect Retry-After, paging.

429 is throttling (nothing was done): wait `Retry-After` (or back off when it is missing) and try
again. 503 is throttling too, but Graph may answer it after doing the work (Exchange took the mail
into Sent Items): like other 5xx and timeouts it is retried only for requests that are safe to
repeat; for the rest the caller learns the outcome is in doubt. 401 and 403 get one retry with a
fresh token (a token keeps the permissions it was issued with: consent granted since is only in a
new one); 401/403 then name the missing permission. TLS is verified by httpx (trusting
`SSL_CERT_FILE` when set).
"""

from __future__ import annotations

import email.utils
import enum
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from bot.clock import Clock
from bot.tls import client_tls
from handlers.microsoft365.errors import (
    GraphAuthError,
    GraphConflict,
    GraphError,
    GraphNotFound,
    GraphThrottled,
    GraphUnavailable,
)

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE"})
MAX_BACKOFF = 60.0


class Auth(enum.StrEnum):
    APP = "app"  # client credentials: calendar, mail, activity feed, directory
    USER = "user"  # the delegated service account: channel posts, chats


class TokenSource(Protocol):
    def token(self, auth: Auth, *, refresh: bool = False) -> str:
        """A bearer token; `refresh` asks for a new one (the last was refused)."""
        ...


@dataclass(frozen=True)
class GraphResponse:
    status: int
    body: Any
    headers: Mapping[str, str]
    content: bytes = b""  # the body as it came (a message's MIME from `$value`)

    def object(self) -> dict[str, Any]:
        return self.body if isinstance(self.body, dict) else {}


def segment(value: str) -> str:
    """One path segment (a user, event, chat or message id), escaped for a URL."""
    return quote(value, safe="@:")


def retry_after(headers: Mapping[str, str], attempt: int) -> float:
    """Seconds to wait: the Retry-After header (seconds or a date), else exponential back-off."""
    raw = (headers.get("retry-after") or "").strip()
    if raw.isdigit():
        return float(raw)
    if raw:
        try:
            when = email.utils.parsedate_to_datetime(raw)
            return max(0.0, (when - datetime.now(UTC)).total_seconds())
        except (TypeError, ValueError):
            pass
    return backoff(attempt)


def backoff(attempt: int) -> float:
    return min(MAX_BACKOFF, 2.0 ** (attempt - 1)) * random.uniform(0.8, 1.2)


def error_of(response: httpx.Response) -> tuple[str | None, str]:
    """Graph's error code and message from an error body (never the request or a token)."""
    try:
        error = response.json().get("error", {})
    except ValueError:
        return None, response.reason_phrase
    if not isinstance(error, dict):
        return None, str(error)[:200]
    return error.get("code"), str(error.get("message") or response.reason_phrase)[:300]


class GraphClient:
    def __init__(
        self,
        base_url: str,
        tokens: TokenSource,
        clock: Clock,
        *,
        timeout: float = 30.0,
        attempts: int = 4,
        max_wait: float = 120.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokens, self.clock = tokens, clock
        self.attempts, self.max_wait = attempts, max_wait
        self._http = httpx.Client(
            timeout=timeout, headers={"User-Agent": "baerekraft-bot"}, verify=client_tls()
        )

    def close(self) -> None:
        self._http.close()

    def url(self, path: str) -> str:
        """An absolute URL for a path, or a next/delta link, which must stay under GRAPH_API_URL."""
        if path.startswith("https://"):
            if not path.startswith(self.base_url + "/"):
                raise GraphError("refusing to follow a link outside GRAPH_API_URL")
            return path
        return self.base_url + "/" + path.lstrip("/")

    def call(
        self,
        method: str,
        path: str,
        *,
        auth: Auth,
        permission: str,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        wait_when_throttled: bool = True,
        fresh_token: bool = False,
    ) -> GraphResponse:
        """One request with retries; raises a GraphError subclass when it does not succeed.
        `fresh_token`: with a new token, not the cached one (an API that wants a long-lived one)."""
        safe = method in IDEMPOTENT if idempotent is None else idempotent
        label = f"Graph {method} {path.split('?')[0][:120]}"
        refreshed, attempt = fresh_token, 0
        while True:
            attempt += 1
            token = self.tokens.token(auth, refresh=refreshed)
            sent_headers = {"Authorization": f"Bearer {token}", **(headers or {})}
            try:
                response = self._http.request(
                    method, self.url(path), json=json, content=content, headers=sent_headers, params=params
                )
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                failure: GraphError = GraphUnavailable(f"{label}: cannot connect ({type(exc).__name__})")
            except httpx.TransportError as exc:
                failure = GraphUnavailable(f"{label}: no answer ({type(exc).__name__})", in_doubt=not safe)
            else:
                if response.status_code < 300:
                    return _response(response)
                if response.status_code in (401, 403) and not refreshed:
                    refreshed = True
                    continue
                failure = _failure(response, label, permission, auth, attempt, safe)
            if not self._again(failure, attempt, safe, wait_when_throttled):
                raise failure

    def _again(self, failure: GraphError, attempt: int, safe: bool, wait_when_throttled: bool) -> bool:
        """Whether to try once more (after waiting as long as the failure asks)."""
        if attempt >= self.attempts:
            return False
        if isinstance(failure, GraphThrottled):
            if failure.in_doubt or not wait_when_throttled or failure.retry_after > self.max_wait:
                return False
            self.clock.sleep(failure.retry_after)
            return True
        if isinstance(failure, GraphUnavailable) and (safe or not failure.in_doubt):
            self.clock.sleep(backoff(attempt))
            return True
        return False

    def pages(
        self, path: str, *, auth: Auth, permission: str, params: Mapping[str, str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every page of a collection, following `@odata.nextLink`; the last one may hold a delta link."""
        page = self.call("GET", path, auth=auth, permission=permission, params=params).object()
        yield page
        while isinstance(page.get("@odata.nextLink"), str):
            page = self.call("GET", page["@odata.nextLink"], auth=auth, permission=permission).object()
            yield page

    def items(
        self, path: str, *, auth: Auth, permission: str, params: Mapping[str, str] | None = None
    ) -> Iterator[dict[str, Any]]:
        for page in self.pages(path, auth=auth, permission=permission, params=params):
            yield from (item for item in page.get("value", []) if isinstance(item, dict))


def _response(response: httpx.Response) -> GraphResponse:
    body: Any = None
    if response.content and "json" in response.headers.get("content-type", ""):
        body = response.json()
    return GraphResponse(response.status_code, body, dict(response.headers), response.content)


def _failure(
    response: httpx.Response, label: str, permission: str, auth: Auth, attempt: int, safe: bool
) -> GraphError:
    status = response.status_code
    code, message = error_of(response)
    if status in (429, 503):
        wait = retry_after(response.headers, attempt)
        doubt = status == 503 and not safe
        text = f"{label}: throttled ({status}{', perhaps done' if doubt else ''}), retry after {wait:.0f} s"
        return GraphThrottled(text, wait, status=status, in_doubt=doubt)
    if status >= 500:
        return GraphUnavailable(
            f"{label}: {status} {code or ''} {message}".strip(), status=status, in_doubt=not safe
        )
    if status in (401, 403):
        who = "the app needs the application" if auth is Auth.APP else "the Teams login needs the delegated"
        text = f"{label}: {status} {code or ''}: {who} permission {permission} (with admin consent)"
        return GraphAuthError(text, status=status, code=code)
    if status == 404:
        return GraphNotFound(f"{label}: 404 {code or ''}: {message}", status=status, code=code)
    if status == 412:
        return GraphConflict(f"{label}: 412 {code or ''}: changed meanwhile", status=status, code=code)
    return GraphError(f"{label}: {status} {code or ''}: {message}", status=status, code=code)
