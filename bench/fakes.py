"""The tests' fakes of Slack and Microsoft Graph, with the platforms' rate limits enforced on top.

The limits are scaled in time by a factor (`Scale`) so that a fan-out that takes an hour against the
real services takes seconds here, and the floor set by the limits is scaled the same way. A request
over a limit gets HTTP 429 with an integer `Retry-After` (at least 1 s, as HTTP allows nothing finer).

Each fake also keeps, for the benchmark, when every message request arrived (wall clock), its
delivery key and the status it got, so lateness, 429s and duplicates are counted at the receiving end.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from tests.fakes.bucket import Bucket, retry_after
from tests.fakes.https_fake import Request, Response, error
from tests.microsoft365.fakes.graph_api import FakeGraph
from tests.microsoft365.fakes.identity_provider import FakeIdentityProvider
from tests.slack.fakes.slack_api import Answer, FakeSlackAPI

try:  # the test CA of the HTTPS fakes (it moved between modules while Microsoft 365 was being built)
    from tests.fakes.https_fake import local_ca
except ImportError:  # pragma: no cover
    from tests.fakes.https_ca import local_ca  # type: ignore[import-not-found, no-redef]

__all__ = ["Arrival", "Bucket", "PacedGraph", "PacedSlack", "local_ca"]

SEND_MAIL = re.compile(r"^/v1\.0/users/[^/]+/sendMail$")
MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Arrival:
    """One message request as the fake saw it."""

    at: float  # time.time() on arrival
    key: str | None  # the delivery key the bot put in the message (None for other senders)
    target: str
    status: int


class PacedSlack(FakeSlackAPI):
    """The Slack Web API fake, enforcing chat.postMessage's per-channel and workspace-wide limits."""

    def __init__(
        self,
        *,
        channel_rate: float,
        workspace_rate: float,
        channel_burst: float = 1.0,
        workspace_burst: float = 10.0,
        announcements: str = "C0ANNOUNCE",
        tier_scale: float = 1.0,
    ) -> None:
        super().__init__(tier_scale=tier_scale)  # users.info, views.publish: Tier 4 (slack_tiers)
        self.add_channel(announcements, "baerekraft")  # public; the bot joins it when it starts
        self.channel_rate, self.channel_burst = channel_rate, channel_burst
        self.ws_bucket = Bucket(workspace_rate, workspace_burst)
        self.channel_buckets: dict[str, Bucket] = {}
        self.arrivals: list[Arrival] = []
        self.answered_commands = 0  # answers a response_url took
        self._pace_lock = threading.Lock()

    def start(self) -> PacedSlack:
        super().start()
        return self

    def answer(self, method: str, params: dict[str, Any], token: str | None) -> Answer:
        if method.startswith("response_url:"):
            taken = super().answer(method, params, token)
            if taken.status == 200:  # a reply refused (an unknown response_url) answered nothing
                with self._pace_lock:
                    self.answered_commands += 1
            return taken
        if method != "chat.postMessage":
            return super().answer(method, params, token)
        channel = str(params.get("channel") or "")
        metadata = params.get("metadata") or {}
        key = metadata.get("event_payload", {}).get("key") if isinstance(metadata, dict) else None
        arrived = time.time()
        with self._pace_lock:
            now = time.monotonic()
            bucket = self.channel_buckets.get(channel)
            if bucket is None:
                bucket = self.channel_buckets[channel] = Bucket(self.channel_rate, self.channel_burst)
            wait = max(bucket.wait(now), self.ws_bucket.wait(now))
            if wait == 0.0:
                bucket.take()
                self.ws_bucket.take()
        if wait > 0.0:
            answer = self._record(
                method, params, Answer(429, {"ok": False, "error": "ratelimited"}, retry_after(wait))
            )
        else:
            answer = super().answer(method, params, token)
        with self._pace_lock:
            self.arrivals.append(Arrival(arrived, key, channel, answer.status))
        return answer

    def accepted(self) -> list[Arrival]:
        with self._pace_lock:
            return [a for a in self.arrivals if a.status == 200]

    def throttled(self) -> int:
        with self._pace_lock:
            return sum(1 for a in self.arrivals if a.status == 429)

    def duplicates(self) -> int:
        """Messages accepted more than once: by delivery key, or by target for a sender without keys."""
        counts = Counter(a.key or a.target for a in self.accepted())
        return sum(n - 1 for n in counts.values() if n > 1)


class PacedGraph(FakeGraph):
    """The Graph fake, enforcing Exchange Online's messages-per-minute on the organiser's sendMail."""

    def __init__(self, idp: FakeIdentityProvider, *, per_second: float, burst: float) -> None:
        super().__init__(idp)
        self.mail_bucket = Bucket(per_second, burst)
        self.arrivals: list[Arrival] = []
        self._pace_lock = threading.Lock()

    def start(self) -> PacedGraph:
        super().start()
        return self

    def handle(self, request: Request) -> Response:
        if request.method != "POST" or not SEND_MAIL.match(request.path):
            return super().handle(request)
        arrived = time.time()
        with self._pace_lock:
            wait = self.mail_bucket.wait(time.monotonic())
            if wait == 0.0:
                self.mail_bucket.take()
        if wait > 0.0:
            answer = error(
                429,
                "ApplicationThrottled",
                "mailbox send rate exceeded",
                **{"Retry-After": str(retry_after(wait))},
            )
            self._record(request, request.path[len("/v1.0") :], "app", False, answer)
        else:
            answer = super().handle(request)
        with self._pace_lock:
            self.arrivals.append(Arrival(arrived, _message_id(request.body), "mail", answer.status))
        return answer

    def accepted(self) -> list[Arrival]:
        with self._pace_lock:
            return [a for a in self.arrivals if a.status < 300]

    def throttled(self) -> int:
        with self._pace_lock:
            return sum(1 for a in self.arrivals if a.status == 429)

    def duplicates(self) -> int:
        counts = Counter(a.key for a in self.accepted() if a.key is not None)
        return sum(n - 1 for n in counts.values() if n > 1)


def _message_id(body: bytes) -> str | None:
    """The Message-ID of a MIME sendMail body (base64 of the MIME text), which names the delivery."""
    try:
        raw = base64.b64decode(body, validate=False)
    except ValueError:
        return None
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    found = MESSAGE_ID.search(head)
    return found.group(1).decode() if found else None
