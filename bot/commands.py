"""The neutral command language: what every channel's handler turns its input into.

A handler (console line, Slack slash command or modal, Teams message, web form) produces one of these
dataclasses; `bot.dispatch` carries it out. Nothing here knows about a channel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time


@dataclass(frozen=True)
class Actor:
    """Who sent a command, as the channel knows them.

    `email` is set only when the channel vouches for it (Slack profile with users:read.email, Graph,
    a confirmed web opt-in, the operator's `shell --as`). `is_operator` is the local operator (CLI or
    `shell --organiser`), who has organiser rights in every series.
    """

    platform: str
    external_id: str
    email: str | None = None
    name: str | None = None
    language: str | None = None
    is_operator: bool = False

    @property
    def label(self) -> str:
        return f"{self.platform}:{self.external_id}"


# --- everyone -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subscribe:
    series: str | None = None


@dataclass(frozen=True)
class Unsubscribe:
    series: str | None = None


@dataclass(frozen=True)
class Status:
    series: str | None = None


@dataclass(frozen=True)
class NextSession:
    series: str | None = None


@dataclass(frozen=True)
class Archive:
    series: str | None = None


@dataclass(frozen=True)
class SetDirectMessages:
    """Reminders as direct messages too (where a channel offers them, e.g. Slack), or not."""

    enabled: bool
    series: str | None = None


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class MyData:
    pass


@dataclass(frozen=True)
class ForgetMe:
    confirmed: bool = False


# --- organisers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionFields:
    """Optional session fields; `None` means "not given" (for a change: leave as it is)."""

    title: str | None = None
    start_local: datetime | None = None  # naive, in the series' time zone
    duration_minutes: int | None = None
    topic: str | None = None
    speakers: str | None = None
    description: str | None = None
    join_url: str | None = None


@dataclass(frozen=True)
class AddSession:
    fields: SessionFields
    series: str | None = None


@dataclass(frozen=True)
class ChangeSession:
    session_id: int
    fields: SessionFields


@dataclass(frozen=True)
class CancelSession:
    session_id: int


@dataclass(frozen=True)
class Recurrence:
    """A monthly rule: the `ordinal` (1-4, or -1 for last) `weekday` (0=Monday) of each month,
    from `start` to `end` local time, except in `skip_months` (1-12)."""

    ordinal: int
    weekday: int
    start: time
    end: time
    skip_months: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True)
class SetRecurrence:
    rule: Recurrence | None  # None switches recurrence off
    series: str | None = None


@dataclass(frozen=True)
class AddLink:
    session_id: int
    url: str
    title: str
    speaker: str | None = None


@dataclass(frozen=True)
class RemoveLink:
    link_id: int


@dataclass(frozen=True)
class CountSubscribers:
    series: str | None = None


@dataclass(frozen=True)
class GrantOrganiser:
    identity: str  # an e-mail, or platform:user-id such as slack:U123
    series: str | None = None


@dataclass(frozen=True)
class RevokeOrganiser:
    identity: str
    series: str | None = None


# --- what the parser returns when it cannot make a command -----------------------------------------


@dataclass(frozen=True)
class Unknown:
    """Text that is no command: the reply is the help."""

    text: str


@dataclass(frozen=True)
class Invalid:
    """A recognised command with unusable arguments.

    `problem` is a message key (see templates/*/replies/invalid.txt), `usage` the command's key for
    the usage line, `detail` the offending text (shown to the user, escaped by the channel).
    """

    usage: str
    problem: str
    detail: str = ""


Command = (
    Subscribe
    | Unsubscribe
    | Status
    | NextSession
    | Archive
    | Help
    | MyData
    | ForgetMe
    | SetDirectMessages
    | AddSession
    | ChangeSession
    | CancelSession
    | SetRecurrence
    | AddLink
    | RemoveLink
    | CountSubscribers
    | GrantOrganiser
    | RevokeOrganiser
    | Unknown
    | Invalid
)
