"""What can go wrong with Microsoft 365: exceptions that say what to do about it, and `Health`, the
problems going on right now, logged once when they start and when they end. `/healthz` shows the
channel "degraded: <why>" while any area (or the stored Teams login) has one; `teams status` the
details.
"""

from __future__ import annotations

import logging
import threading

from bot.delivery.channels import CREDENTIALS, PERMISSION, ChannelUnavailable

log = logging.getLogger(__name__)


class GraphError(Exception):
    """A request Graph refused or could not answer; `status` is the HTTP status (0: no answer)."""

    def __init__(self, message: str, *, status: int = 0, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class GraphAuthError(GraphError):
    """401/403: the token was refused or the app lacks a permission (named in the message)."""


def paused_by(exc: GraphAuthError, *, target: str | None = None) -> ChannelUnavailable:
    """A refusal that stops every send of its kind, not one message: the delivery engine holds the
    channel (or `target`) back until a probe gets through. 403: a permission (consent) is missing;
    401, or the identity provider refusing the app (an expired client secret): the credentials."""
    problem = PERMISSION if exc.status == 403 else CREDENTIALS
    return ChannelUnavailable(problem, str(exc), target=target)


class GraphNotFound(GraphError):
    """404: the user, event, chat or message does not exist (or the app is not installed for it)."""


class GraphConflict(GraphError):
    """412: the item changed since it was read (its ETag no longer matches `If-Match`): read it again."""


class GraphThrottled(GraphError):
    """429 or 503: try again after `retry_after` seconds. A 429 means nothing was done; a 503 may come
    after the work was done (a mail in Sent Items), so for a request unsafe to repeat it is `in_doubt`."""

    def __init__(
        self, message: str, retry_after: float, *, status: int = 429, in_doubt: bool = False
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after
        self.in_doubt = in_doubt


class GraphUnavailable(GraphError):
    """A 5xx answer or no answer at all. `in_doubt`: the request may have been carried out."""

    def __init__(self, message: str, *, status: int = 0, in_doubt: bool = False) -> None:
        super().__init__(message, status=status)
        self.in_doubt = in_doubt


class LoginNeeded(Exception):
    """The delegated Teams login is missing, expired or revoked: `baerekraft-bot teams login`."""


class Health:
    def __init__(self) -> None:
        self._problems: dict[str, str] = {}
        self._lock = threading.Lock()

    def report(self, area: str, problem: str) -> None:
        with self._lock:
            if self._problems.get(area) == problem:
                return
            self._problems[area] = problem
        log.error("Microsoft 365 %s: %s", area, problem)

    def clear(self, area: str) -> None:
        with self._lock:
            if self._problems.pop(area, None) is None:
                return
        log.info("Microsoft 365 %s works again", area)

    def problems(self) -> dict[str, str]:
        with self._lock:
            return dict(self._problems)
