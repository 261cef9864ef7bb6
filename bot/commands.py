"""The neutral command language: what every channel's handler turns its input into.

A handler (console line, Slack slash command or modal, Teams message, web form) produces one of these
dataclasses; `bot.dispatch` carries it out. Nothing here knows about a channel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time

# --- the language a command was written in ----------------------------------------------------------


@dataclass(frozen=True)
class Said:
    """What every command carries: the languages its words belong to (`said_in`), as the parser saw
    them. Empty when it cannot tell (`status` is every language's word) or when no words were typed
    (a button, a web form). Not part of a command's equality: `meld på` and `subscribe` are one command.
    """

    said_in: frozenset[str] = field(default=frozenset(), kw_only=True, compare=False)


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
class Subscribe(Said):
    series: str | None = None


@dataclass(frozen=True)
class Unsubscribe(Said):
    series: str | None = None


@dataclass(frozen=True)
class InviteColleague(Said):
    """Send a colleague one mail with a link to subscribe (double opt-in). A web form, whose sender
    is nobody the bot knows, gives the inviter's name and address; a chat knows its sender."""

    email: str
    series: str | None = None
    inviter_name: str | None = None
    inviter_email: str | None = None


@dataclass(frozen=True)
class Status(Said):
    series: str | None = None


@dataclass(frozen=True)
class NextSession(Said):
    series: str | None = None


@dataclass(frozen=True)
class Archive(Said):
    series: str | None = None


@dataclass(frozen=True)
class SetDirectMessages(Said):
    """Reminders as direct messages too (where a channel offers them, e.g. Slack), or not."""

    enabled: bool
    series: str | None = None


@dataclass(frozen=True)
class Help(Said):
    pass


@dataclass(frozen=True)
class MyData(Said):
    pass


@dataclass(frozen=True)
class SetLanguage(Said):
    """`språk en`: answer me in this language from now on; `None` asks which one is set.

    `language` is a language code when the words named one (`en`, `engelsk`, `nynorsk`), otherwise
    the words as written, for the core to refuse with the supported list."""

    language: str | None = None


@dataclass(frozen=True)
class SmallTalk(Said):
    """A greeting (`hei`) or thanks (`takk`) with no command in it: `kind` is "greeting" or "thanks"."""

    kind: str


@dataclass(frozen=True)
class ForgetMe(Said):
    confirmed: bool = False


# --- organisers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenStart:
    """A start as written without its year (`5/3 kl. 9`) or with its weekday (`fredag 5. mars 2027`):
    the core settles it in the series' time zone (the next such day from today) and checks the weekday."""

    month: int
    day: int
    at: time
    year: int | None = None
    weekday: int | None = None  # 0 = Monday, as written


@dataclass(frozen=True)
class SessionFields:
    """Optional session fields; `None` means "not given" (for a change: leave as it is).

    The start is `start_local`, or `open_start` until the core settled it (never both)."""

    title: str | None = None
    start_local: datetime | None = None  # naive, in the series' time zone
    duration_minutes: int | None = None
    topic: str | None = None
    speakers: str | None = None
    description: str | None = None
    join_url: str | None = None
    open_start: OpenStart | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class AddSession(Said):
    fields: SessionFields
    series: str | None = None
    force: bool = False  # also when it overlaps another session of the series


@dataclass(frozen=True)
class ChangeSession(Said):
    session_id: int
    fields: SessionFields
    force: bool = False  # also when the new time overlaps another session of the series


@dataclass(frozen=True)
class CancelSession(Said):
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
class SetRecurrence(Said):
    rule: Recurrence | None  # None switches recurrence off
    series: str | None = None


@dataclass(frozen=True)
class AddLink(Said):
    session_id: int
    url: str
    title: str
    speaker: str | None = None
    kind: str = "slides"  # or "recording" (bot.models.LinkKind)


@dataclass(frozen=True)
class RemoveLink(Said):
    link_id: int


@dataclass(frozen=True)
class CountSubscribers(Said):
    series: str | None = None


@dataclass(frozen=True)
class SessionNumbers(Said):
    """`antall 12`: the numbers of one session (invited, reached per channel, left since, attended)."""

    session_id: int


@dataclass(frozen=True)
class GrantOrganiser(Said):
    identity: str  # an e-mail, or platform:user-id such as slack:U123
    series: str | None = None


@dataclass(frozen=True)
class RevokeOrganiser(Said):
    identity: str
    series: str | None = None


# --- what the parser returns when it cannot make a command -----------------------------------------


@dataclass(frozen=True)
class Unknown(Said):
    """Text that is no command: the reply says so, with the nearest command word (`suggestion`, as
    written in the command table) when one is close, and a short help."""

    text: str
    suggestion: str | None = None


@dataclass(frozen=True)
class Invalid(Said):
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
    | InviteColleague
    | Status
    | NextSession
    | Archive
    | Help
    | MyData
    | ForgetMe
    | SetLanguage
    | SmallTalk
    | SetDirectMessages
    | AddSession
    | ChangeSession
    | CancelSession
    | SetRecurrence
    | AddLink
    | RemoveLink
    | CountSubscribers
    | SessionNumbers
    | GrantOrganiser
    | RevokeOrganiser
    | Unknown
    | Invalid
)
