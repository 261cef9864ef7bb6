"""Carries out a neutral command: one transaction, one audit trail, one reply to render.

This is the single path every channel uses: handler → `Command` → `Dispatcher.execute` → `Reply` →
`Renderer` → channel. Refusals (`UserError`) roll the transaction back and become replies; any other
error is logged and answered with a polite apology, never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bot import commands as c
from bot.clock import Clock
from bot.db import Batch, Database
from bot.error_policy import ErrorPolicy, describe
from bot.models import Series
from bot.recurrence import to_rrule
from bot.services import (
    audit,
    bounces,
    colleagues,
    languages,
    links,
    numbers,
    organisers,
    privacy,
    sessions,
    subscriptions,
)
from bot.services.context import CoreConfig, Ctx
from bot.services.errors import UserError
from bot.services.people import channels_of, find_person
from bot.services.series import resolve_series
from bot.settings import LANGUAGES
from bot.text import visible
from bot.views import LinkView, SeriesView, SessionView

log = logging.getLogger(__name__)


class Abandon(Exception):
    """Raised when the caller's `within` refused: the command was rolled back and has no reply."""


@dataclass(frozen=True)
class Reply:
    """A reply to render: template `key` under `templates/<language>/replies/`, with `data`."""

    key: str
    data: dict[str, Any] = field(default_factory=dict)
    language: str = "nb"
    timezone: str = "Europe/Oslo"


@dataclass(frozen=True)
class Result:
    key: str
    data: dict[str, Any] = field(default_factory=dict)
    series: Series | None = None


Handler = Callable[[Ctx, Any], Result]
HANDLERS: dict[type, Handler] = {}


def handles(kind: type) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return register


class Dispatcher:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        config: CoreConfig,
        errors: ErrorPolicy,
        erasers: Sequence[privacy.Eraser] = (),
    ) -> None:
        self.db, self.clock, self.config, self.errors = db, clock, config, errors
        self.erasers = tuple(erasers)
        # How many of a series' subscribers no configured channel reaches (bot/delivery/reach.py),
        # told to organisers with the count; set by the composition root once the channels exist.
        self.unreached: Callable[[Session, Series], int] | None = None
        # Queues the mail to an invited colleague (the web channel's); set by the composition root.
        self.colleague_mail: colleagues.ColleagueMailer | None = None
        # What the channels delivered for a session outside the outbox, for its numbers (`antall
        # 12`); set by the composition root once the channels exist.
        self.outside_reach: Callable[[Session, int], list[numbers.OutsideReach]] | None = None

    def execute(
        self,
        actor: c.Actor,
        command: c.Command,
        *,
        within: Callable[[Session], None] | None = None,
        batch: Batch | None = None,
    ) -> Reply:
        """Carry `command` out for `actor`. `within` runs inside the command's transaction after it
        succeeded (e.g. to mark the inbound request that carried it as executed, atomically); an
        exception it raises rolls the command back and is raised to the caller.

        With `batch`, the command is one unit of that shared transaction instead of a transaction
        of its own, and the caller answers only once the batch committed. A refusal or an error
        after the command wrote spoils the batch (`Batch`): its caller rolls it back and carries the
        other commands out again, this one keeping its reply. An unavailable database is raised
        then (the whole batch is in doubt), not answered."""
        try:
            return self._run(actor, command, within, batch)
        except Abandon:
            raise
        except UserError as refusal:
            return self._refusal(actor, command, Result(refusal.key, refusal.data), batch)
        except OperationalError as exc:
            if batch is not None:
                raise
            log.error("database unavailable while handling %s: %s", type(command).__name__, describe(exc))
            return self._reply(actor, command, Result("unavailable"), None)
        except Exception as exc:
            self.errors.unexpected(f"command {type(command).__name__}", exc, actor=actor.platform)
            return self._refusal(actor, command, Result("error"), batch)

    def _run(
        self,
        actor: c.Actor,
        command: c.Command,
        within: Callable[[Session], None] | None,
        batch: Batch | None,
    ) -> Reply:
        handler = HANDLERS[type(command)]
        units = (
            self.db.transaction()
            if batch is None
            else batch.unit(reads_only_kept=isinstance(command, _SERIES_KEPT))
        )
        with units as s:
            ctx = Ctx(s, actor, self.clock.now(), self.config, self.erasers, self.colleague_mail)
            result = handler(ctx, command)
            if result.key == "count" and result.series is not None and self.unreached is not None:
                result.data["unreached"] = self.unreached(s, result.series)
            if result.key == "session_numbers" and self.outside_reach is not None:
                found = result.data["numbers"]
                result.data["numbers"] = numbers.numbers_of(ctx, found.session_id, self.outside_reach)
            spoken = self._spoken(command, result.series)
            if spoken is not None and not isinstance(command, _NOT_LEARNED_FROM):
                languages.learn(ctx, spoken)
            reply = self._reply(actor, command, result, s)
            if within is not None:
                try:
                    within(s)
                except Exception as exc:
                    raise Abandon(str(exc)) from exc
            return reply

    def _refusal(self, actor: c.Actor, command: c.Command, result: Result, batch: Batch | None) -> Reply:
        """A reply after the transaction rolled back, still in the person's own language (read
        outside a spoiled batch: what the command wrote is still in it, or it is aborted)."""
        try:
            with self.db.read() if batch is None or batch.spoiled else batch.read() as s:
                return self._reply(actor, command, result, s)
        except OperationalError:
            return self._reply(actor, command, result, None)

    def _spoken(self, command: c.Command, series: Series | None) -> str | None:
        return languages.spoken(command.said_in, (series.language if series else None, self.config.language))

    def _reply(self, actor: c.Actor, command: c.Command, result: Result, s: Session | None) -> Reply:
        """The reply in the person's own language, or the one their platform gives (a Slack locale, the
        console's `--language`); for someone without either, the language of their words when these
        tell, then the series', the bot's."""
        person = find_person(s, actor) if s is not None else None
        series = result.series
        language = (
            (person.language if person else None)
            or actor.language
            or self._spoken(command, series)
            or (series.language if series else None)
            or self.config.language
        )
        timezone = series.timezone if series else self.config.timezone
        return Reply(result.key, result.data, language, timezone)


# Commands that change no series and no session: in a batch, they take the series and the next
# session an earlier one of them found in the same transaction (services.series.resolve_series,
# services.sessions.next_session_view).
_SERIES_KEPT = (c.Subscribe, c.Unsubscribe, c.SetDirectMessages, c.Status, c.NextSession)

# What a person's language is not learned from: a guess at a typo, and an erasure.
_NOT_LEARNED_FROM = (c.Unknown, c.ForgetMe, c.SetLanguage)


# --- everyone -------------------------------------------------------------------------------------


@handles(c.Subscribe)
def _subscribe(ctx: Ctx, cmd: c.Subscribe) -> Result:
    series = resolve_series(ctx, cmd.series)
    outcome = subscriptions.subscribe(ctx, series)
    key = "subscribed" if outcome.changed else "already_subscribed"
    return Result(key, {"series": SeriesView.of(series), **_next(ctx, series)}, series)


@handles(c.Unsubscribe)
def _unsubscribe(ctx: Ctx, cmd: c.Unsubscribe) -> Result:
    series = resolve_series(ctx, cmd.series)
    outcome = subscriptions.unsubscribe(ctx, series)
    key = "unsubscribed" if outcome.changed else "not_subscribed"
    return Result(key, {"series": SeriesView.of(series)}, series)


@handles(c.InviteColleague)
def _invite_colleague(ctx: Ctx, cmd: c.InviteColleague) -> Result:
    series = resolve_series(ctx, cmd.series)
    colleagues.invite(ctx, series, cmd.email, inviter_name=cmd.inviter_name, inviter_email=cmd.inviter_email)
    return Result("colleague_invited", {"series": SeriesView.of(series)}, series)


@handles(c.SetDirectMessages)
def _direct_messages(ctx: Ctx, cmd: c.SetDirectMessages) -> Result:
    series = resolve_series(ctx, cmd.series)
    outcome = subscriptions.set_direct_messages(ctx, series, cmd.enabled)
    data = {"series": SeriesView.of(series), "enabled": cmd.enabled, "changed": outcome.changed}
    return Result("direct_messages", data, series)


@handles(c.Status)
def _status(ctx: Ctx, cmd: c.Status) -> Result:
    series = resolve_series(ctx, cmd.series)
    person = find_person(ctx.s, ctx.actor)
    sub = subscriptions.subscription_of(ctx, person, series) if person else None
    data = {
        "series": SeriesView.of(series),
        "subscribed": bool(sub and sub.active),
        "since": sub.consented_at if sub and sub.active else None,
        "organiser": organisers.is_organiser(ctx, series),
        **_next(ctx, series),
    }
    return Result("status", data, series)


@handles(c.NextSession)
def _next_session(ctx: Ctx, cmd: c.NextSession) -> Result:
    series = resolve_series(ctx, cmd.series)
    return Result("next", {"series": SeriesView.of(series), **_next(ctx, series)}, series)


@handles(c.Archive)
def _archive(ctx: Ctx, cmd: c.Archive) -> Result:
    series = resolve_series(ctx, cmd.series)
    past = [SessionView.of(x) for x in sessions.past_sessions(ctx, series)]
    return Result("archive", {"series": SeriesView.of(series), "sessions": past}, series)


@handles(c.Help)
def _help(ctx: Ctx, cmd: c.Help) -> Result:
    return Result("help", {"unknown": None, "organiser": organisers.organises_any(ctx)})


_ECHO_LIMIT = 80  # characters of what was not understood, shown back


@handles(c.Unknown)
def _unknown(ctx: Ctx, cmd: c.Unknown) -> Result:
    text = " ".join(visible(cmd.text).split())
    shown = text if len(text) <= _ECHO_LIMIT else text[: _ECHO_LIMIT - 1] + "…"
    data = {"text": shown, "suggestion": cmd.suggestion, "organiser": organisers.organises_any(ctx)}
    return Result("unknown", data)


@handles(c.SmallTalk)
def _small_talk(ctx: Ctx, cmd: c.SmallTalk) -> Result:
    return Result("small_talk", {"kind": cmd.kind})


@handles(c.SetLanguage)
def _set_language(ctx: Ctx, cmd: c.SetLanguage) -> Result:
    if cmd.language is None:
        person = find_person(ctx.s, ctx.actor)
        chosen = person.language if person is not None else None
        return Result("language", {"chosen": chosen, "languages": list(LANGUAGES)})
    person = languages.choose(ctx, cmd.language)
    return Result("language_set", {"language": person.language, "languages": list(LANGUAGES)})


@handles(c.Invalid)
def _invalid(ctx: Ctx, cmd: c.Invalid) -> Result:
    return Result("invalid", {"usage": cmd.usage, "problem": cmd.problem, "detail": cmd.detail})


@handles(c.MyData)
def _my_data(ctx: Ctx, cmd: c.MyData) -> Result:
    person = find_person(ctx.s, ctx.actor)
    if person is None:
        return Result("nothing_stored")
    subs = [
        {
            "series": sub.series.name,
            "active": sub.active,
            "source_channel": sub.source_channel,
            "consented_at": sub.consented_at,
            "unsubscribed_at": sub.unsubscribed_at,
        }
        for sub in subscriptions.subscriptions_of(ctx, person)
    ]
    data = {
        "name": person.name,
        "email": person.email,
        "language": person.language,
        "created_at": person.created_at,
        "identities": [f"{i.platform}:{i.external_id}" for i in person.identities],
        "channels": channels_of(person),
        "subscriptions": subs,
        "audit_events": privacy.audit_count(ctx, person),
        "bounces": bounces.summary(ctx, person),
    }
    return Result("my_data", data)


@handles(c.ForgetMe)
def _forget_me(ctx: Ctx, cmd: c.ForgetMe) -> Result:
    if find_person(ctx.s, ctx.actor) is None:
        return Result("nothing_stored")
    if not cmd.confirmed:
        return Result("confirm_forget")
    privacy.erase(ctx)
    return Result("forgotten")


# --- organisers -----------------------------------------------------------------------------------


@handles(c.AddSession)
def _add_session(ctx: Ctx, cmd: c.AddSession) -> Result:
    series = resolve_series(ctx, cmd.series)
    session = sessions.add_session(ctx, series, cmd.fields, force=cmd.force)
    return Result("session_added", {"session": SessionView.of(session)}, series)


@handles(c.ChangeSession)
def _change_session(ctx: Ctx, cmd: c.ChangeSession) -> Result:
    session, changed = sessions.change_session(ctx, cmd.session_id, cmd.fields, force=cmd.force)
    key = "session_changed" if changed else "session_unchanged"
    return Result(key, {"session": SessionView.of(session), "changed": changed}, session.series)


@handles(c.CancelSession)
def _cancel_session(ctx: Ctx, cmd: c.CancelSession) -> Result:
    session, changed = sessions.cancel_session(ctx, cmd.session_id)
    key = "session_cancelled_now" if changed else "session_cancelled"
    return Result(key, {"session": SessionView.of(session), "session_id": session.id}, session.series)


@handles(c.SetRecurrence)
def _set_recurrence(ctx: Ctx, cmd: c.SetRecurrence) -> Result:
    series = resolve_series(ctx, cmd.series)
    organisers.require_organiser(ctx, series)
    if cmd.rule is None:
        series.recurrence = None
    else:
        series.recurrence = to_rrule(cmd.rule)
        series.default_start_time = cmd.rule.start
        start_min = cmd.rule.start.hour * 60 + cmd.rule.start.minute
        series.default_duration_minutes = cmd.rule.end.hour * 60 + cmd.rule.end.minute - start_min
    audit.record(
        ctx,
        "series.recurrence_set",
        series_id=series.id,
        subject=("series", series.id),
        rule=series.recurrence,
    )
    return Result("recurrence_set", {"series": SeriesView.of(series), "rule": cmd.rule}, series)


@handles(c.AddLink)
def _add_link(ctx: Ctx, cmd: c.AddLink) -> Result:
    link = links.add_link(ctx, cmd.session_id, cmd.url, cmd.title, cmd.speaker, cmd.kind)
    session = SessionView.of(link.session)
    return Result("link_added", {"link": LinkView.of(link), "session": session}, link.session.series)


@handles(c.RemoveLink)
def _remove_link(ctx: Ctx, cmd: c.RemoveLink) -> Result:
    link = links.remove_link(ctx, cmd.link_id)
    return Result("link_removed", {"link": LinkView.of(link)}, link.session.series)


@handles(c.CountSubscribers)
def _count(ctx: Ctx, cmd: c.CountSubscribers) -> Result:
    series = resolve_series(ctx, cmd.series)
    organisers.require_organiser(ctx, series)
    count = subscriptions.active_count(ctx, series)
    suspended = bounces.suspended_count(ctx, series.id)
    data = {"series": SeriesView.of(series), "count": count, "mail_suspended": suspended}
    return Result("count", data, series)


@handles(c.SessionNumbers)
def _session_numbers(ctx: Ctx, cmd: c.SessionNumbers) -> Result:
    found = numbers.numbers_of(ctx, cmd.session_id)
    session = sessions.get_session(ctx, cmd.session_id)
    data = {"session": SessionView.of(session), "numbers": found, "now": ctx.now}
    return Result("session_numbers", data, session.series)


@handles(c.GrantOrganiser)
def _grant(ctx: Ctx, cmd: c.GrantOrganiser) -> Result:
    series = resolve_series(ctx, cmd.series)
    changed = organisers.grant(ctx, series, cmd.identity)
    key = "organiser_granted" if changed else "organiser_already"
    return Result(key, {"series": SeriesView.of(series), "identity": cmd.identity}, series)


@handles(c.RevokeOrganiser)
def _revoke(ctx: Ctx, cmd: c.RevokeOrganiser) -> Result:
    series = resolve_series(ctx, cmd.series)
    changed = organisers.revoke(ctx, series, cmd.identity)
    key = "organiser_revoked" if changed else "organiser_not"
    return Result(key, {"series": SeriesView.of(series), "identity": cmd.identity}, series)


def _next(ctx: Ctx, series: Series) -> dict[str, Any]:
    return {"next": sessions.next_session_view(ctx, series)}
