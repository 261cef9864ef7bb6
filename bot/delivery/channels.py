"""What a channel must provide to the engine: who it reaches, how fast, and how it sends one message."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from bot.views import SeriesView, SessionView


@dataclass(frozen=True)
class Recipient:
    """A person a message is for, with what each channel needs to reach them."""

    person_id: int
    language: str
    name: str | None = None
    email: str | None = None
    identities: dict[str, str] = field(default_factory=dict)  # platform → external id
    subscribed_at: datetime | None = None
    direct: bool = False  # chose reminders as direct messages (where a channel offers them)


@dataclass(frozen=True)
class Target:
    """One send: `target` is channel-specific ("channel", a Slack user id, an address...)."""

    target: str
    language: str
    person_id: int | None = None


@dataclass(frozen=True)
class OutgoingMessage:
    """Everything a sender needs for one delivery, read fresh from the database just before sending."""

    delivery_id: int
    key: str
    kind: str
    channel: str
    target: str
    language: str
    series: SeriesView
    session: SessionView | None
    recipient: Recipient | None
    payload: dict[str, Any]
    in_doubt: bool = False
    # For a message about a session to a target shared by everyone (an announcement channel): the
    # platform's reference of the invitation that went there, so the channel can keep one post alive.
    first_ref: str | None = None
    # In doubt, and no longer to be sent (why): only look whether it went out before the crash.
    skip_unless_sent: str | None = None
    # For a message to subscribers: the series' «invite a colleague» page (needs PUBLIC_BASE_URL).
    invite_url: str | None = None
    # A batch's target (bot/delivery/batches.py): the people it goes to, read fresh.
    batch: tuple[Recipient, ...] = ()


class NotSent(Exception):
    """A message that did not go out and must not any more: one in doubt that was not sent
    (`OutgoingMessage.skip_unless_sent`), or one whose recipient can no longer be reached there
    (a Slack user deactivated after the message was planned). The row ends `skipped`."""


class RetryLater(Exception):
    """Throttled (e.g. HTTP 429): try again after `seconds`. Nothing was sent, unless `in_doubt`
    (a 503 that may have come after the platform took the message): then `find_sent` looks first."""

    def __init__(self, seconds: float, reason: str = "throttled", *, in_doubt: bool = False) -> None:
        super().__init__(reason)
        self.seconds = seconds
        self.in_doubt = in_doubt


class TransientError(Exception):
    """A failure worth retrying (5xx, timeout). `in_doubt`: the message may have gone out."""

    def __init__(self, reason: str, *, in_doubt: bool = False) -> None:
        super().__init__(reason)
        self.in_doubt = in_doubt


class PermanentError(Exception):
    """A failure retrying cannot fix for this one message (unknown user, rejected content)."""


# Why a channel cannot send (ChannelUnavailable.problem); the organisers' notice explains each.
CREDENTIALS = "credentials"  # the platform no longer accepts the bot's token or login
PERMISSION = "permission"  # the bot lacks a permission (scope) it needs to send
TARGET_CLOSED = "target_closed"  # the place it posts to is archived, gone, or closed to the bot
PROBLEMS = (CREDENTIALS, PERMISSION, TARGET_CLOSED)


class ChannelUnavailable(Exception):
    """Nothing was sent, and nothing the channel sends can go out now: not a fault of this message.
    `target` None: the whole channel (its credentials, its permissions); else only sends to that
    target (an archived announcement channel; direct messages go on). The row waits without an
    attempt counted; the channel (or target) is held back until one probing send gets through.
    `reason` is the platform's own word for it (e.g. Slack's `token_revoked`), for operators."""

    def __init__(self, problem: str, reason: str, *, target: str | None = None) -> None:
        super().__init__(reason)
        self.problem, self.reason, self.target = problem, reason, target


class Unverifiable(Exception):
    """`find_sent` cannot tell whether a message in doubt went out, and asking again will not tell
    either (the platform will not show it: a permission or a membership is missing). The engine then
    sends it again, and records and logs that it did."""


@dataclass(frozen=True)
class Pace:
    """One send per `interval` on `key` in the long run; all processes share the key. `burst` > 1 lets
    that many go out back to back (after a quiet spell, or to catch up with a send that was late)."""

    key: str
    interval: timedelta
    burst: int = 1

    @property
    def tolerance(self) -> timedelta:
        """How far ahead of the steady pace a send may go."""
        return self.interval * (self.burst - 1)


class Sender(Protocol):
    channel: str
    in_flight: int  # sends at once (1: one after the other)

    def audience(self, kind: str, series: SeriesView, recipients: Sequence[Recipient]) -> list[Target]:
        """The targets this channel sends `kind` to (its announcement channel, people it can reach)."""
        ...

    def pacing(self, target: str) -> list[Pace]:
        """The rate limits one send to `target` counts against."""
        ...

    def send(self, message: OutgoingMessage) -> str | None:
        """Send; return the platform's reference (message ts, id) if any. Raises the errors above."""
        ...

    def find_sent(self, message: OutgoingMessage) -> str | None:
        """For a message in doubt: its reference if it did go out, None if not. Raises Unverifiable
        when the platform cannot answer and never will, TransientError (or RetryLater) when it may
        answer later."""
        ...


@dataclass(frozen=True)
class Profile:
    """What a channel's audience asks of a subscriber (a `Recipient`), without who they are."""

    language: str
    mailable: bool  # an address mail may go to (`Recipient.email`)
    platforms: frozenset[str]  # where they have an active account (`Recipient.identities`)
    direct: bool
    # Subscribed too recently for the message (a reminder): the planner makes no target of theirs.
    recent: bool = False


@dataclass(frozen=True)
class Headcount:
    """A series' subscribers counted by `Profile`: what a channel needs to tell how many sends a
    fan-out makes (`CountingSender`), in a few rows instead of a list of everyone."""

    profiles: Mapping[Profile, int]

    def people(self, wanted: Callable[[Profile], bool]) -> int:
        """How many get a target of their own that `wanted` picks: the too recent ones left out."""
        return sum(n for profile, n in self.profiles.items() if not profile.recent and wanted(profile))

    def by_language(self, wanted: Callable[[Profile], bool]) -> dict[str, int]:
        """How many of everyone, the too recent ones too, `wanted` picks in each language (for
        targets shared by many, made from everyone: a batch)."""
        counts: dict[str, int] = {}
        for profile, n in self.profiles.items():
            if wanted(profile):
                counts[profile.language] = counts.get(profile.language, 0) + n
        return counts


@runtime_checkable
class CountingSender(Sender, Protocol):
    """A sender that tells from a `Headcount` how many sends a fan-out makes on each of its paces:
    what `audience`, then `pacing` per target, would give for those people. The planner estimates
    how early a fan-out must start from it, without a `Recipient` or a `Target` for everyone."""

    def paced_sends(self, kind: str, series: SeriesView, headcount: Headcount) -> list[tuple[Pace, int]]:
        """Sends of `kind` on each pace. A pace that carries one send of the fan-out (a target's own,
        such as a direct message's channel) may be left out: one send never waits."""
        ...


@dataclass(frozen=True)
class DailyCap:
    """How many recipients a transport takes in a rolling 24 hours (Exchange Online: 10,000 per
    mailbox, every To, Cc, Bcc and meeting attendee counted); `key` names what is counted (the
    mailbox), so senders sharing one count together."""

    key: str
    recipients: int


@runtime_checkable
class CappedSender(Sender, Protocol):
    """A sender whose transport caps the recipients of a day (`daily_cap`), and how many of a
    message's recipients count against it, whichever way it reaches them (one mail each, a batch
    in Bcc, or the Teams meeting's invitation that Exchange mails from the same mailbox)."""

    daily_cap: DailyCap

    def daily_load(self, kind: str, series: SeriesView, headcount: Headcount) -> int:
        """Recipients that sending `kind` to these people counts against `daily_cap`."""
        ...


@runtime_checkable
class BulkSender(Sender, Protocol):
    """A sender whose platform takes one message for many targets in one call (Teams' activity
    feed: 100 people). The worker begins each row, groups those with the same `bulk_key`, and
    records the call's outcome for every row of it: each row is still sent once."""

    bulk_most: int  # targets in one call

    def bulk_key(self, message: OutgoingMessage) -> str | None:
        """What messages sent in one call must share (the same content); None: it goes alone."""
        ...

    def bulk_pacing(self) -> list[Pace]:
        """The rate limits one call counts against."""
        ...

    def send_many(self, messages: Sequence[OutgoingMessage]) -> None:
        """Send the one message to every target of `messages` in one call; raises as `send` does,
        for all of them."""
        ...
